package io.diem.agent.engine.cpu;

/**
 * The float32 operations of the forward pass, as plain functions over arrays. These are the
 * reference every faster path (threads here, kernels on the GPU) is tested against.
 */
public final class CpuOps {

    private CpuOps() {}

    /** {@code out[i] = x[i] / sqrt(mean(x²) + eps) * weight[i]} over {@code n} elements. */
    public static void rmsnorm(float[] out, float[] x, float[] weight, int n, float eps) {
        float ss = 0;
        for (int i = 0; i < n; i++) {
            ss += x[i] * x[i];
        }
        float scale = (float) (1.0 / Math.sqrt(ss / n + eps));
        for (int i = 0; i < n; i++) {
            out[i] = weight[i] * (x[i] * scale);
        }
    }

    /** In-place softmax of {@code x[offset … offset + n)}. */
    public static void softmax(float[] x, int offset, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[offset + i]);
        }
        float sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(x[offset + i] - max);
            x[offset + i] = e;
            sum += e;
        }
        float inv = 1 / sum;
        for (int i = 0; i < n; i++) {
            x[offset + i] *= inv;
        }
    }

    /**
     * Rotary embedding in the "rotate half" layout Hugging Face Llama weights use: within each head,
     * element {@code i} pairs with {@code i + headDim/2}, rotated by {@code position · invFreq[i]}.
     *
     * @param cos {@code (headDim/2)} cosines for this position; {@code sin} likewise
     */
    public static void rope(float[] x, int heads, int headDim, float[] cos, float[] sin) {
        int half = headDim / 2;
        for (int h = 0; h < heads; h++) {
            int base = h * headDim;
            for (int i = 0; i < half; i++) {
                float x0 = x[base + i];
                float x1 = x[base + i + half];
                x[base + i] = x0 * cos[i] - x1 * sin[i];
                x[base + i + half] = x1 * cos[i] + x0 * sin[i];
            }
        }
    }

    /** SwiGLU: {@code gate[i] = silu(gate[i]) * up[i]}. */
    public static void swiglu(float[] gate, float[] up, int n) {
        for (int i = 0; i < n; i++) {
            float g = gate[i];
            gate[i] = g / (1f + (float) Math.exp(-g)) * up[i];
        }
    }

    /** {@code x[i] += y[i]}. */
    public static void add(float[] x, float[] y, int n) {
        for (int i = 0; i < n; i++) {
            x[i] += y[i];
        }
    }
}
