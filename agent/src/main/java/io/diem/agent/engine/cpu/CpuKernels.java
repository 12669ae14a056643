package io.diem.agent.engine.cpu;

import io.diem.agent.model.Tensor;

/**
 * The inner loops of the forward pass: a weight row times the activations (every matrix product),
 * and the dot and scaled add of attention. The default methods are the scalar reference; {@link #best()}
 * adds SIMD through the JDK's vector API when the {@code jdk.incubator.vector} module is present.
 */
public interface CpuKernels {

    /** Row {@code row} of {@code w} times {@code x[0 … w.cols)}. */
    default float rowDot(Tensor w, int row, float[] x) {
        return w.dot(row, x, 0);
    }

    /**
     * Rows {@code row} and {@code row + 1} of {@code w} times {@code x} into {@code out[0]}, {@code out[1]},
     * each exactly what {@link #rowDot} gives (two rows stream from memory at once).
     */
    default void rowDotPair(Tensor w, int row, float[] x, float[] out) {
        out[0] = rowDot(w, row, x);
        out[1] = rowDot(w, row + 1, x);
    }

    /**
     * Row {@code row} of {@code w} times {@code xs[from]} … {@code xs[from + count − 1]} (count ≤ 4) into
     * {@code out[0 … count)}, each result exactly what {@link #rowDot} gives for that vector alone.
     */
    default void rowDots(Tensor w, int row, float[][] xs, int from, int count, float[] out) {
        for (int t = 0; t < count; t++) {
            out[t] = rowDot(w, row, xs[from + t]);
        }
    }

    /** {@code Σ a[aOff + i] · b[bOff + i]} for {@code i < n}. */
    default float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float s = 0;
        for (int i = 0; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    /** {@code y[yOff + i] += alpha · x[xOff + i]} for {@code i < n}. */
    default void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) {
            y[yOff + i] += alpha * x[xOff + i];
        }
    }

    /** "vector(16 lanes)" or "scalar", for logs. */
    default String describe() {
        return "scalar";
    }

    CpuKernels SCALAR = new CpuKernels() {};

    /**
     * The fastest available implementation. {@code -Ddiem.cpu.vector=false} forces the scalar one;
     * without {@code --add-modules jdk.incubator.vector} the scalar one is all there is.
     */
    static CpuKernels best() {
        if (!Boolean.parseBoolean(System.getProperty("diem.cpu.vector", "true"))
                || ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return SCALAR;
        }
        try {
            return (CpuKernels) Class.forName("io.diem.agent.engine.cpu.VectorCpuKernels").getDeclaredConstructor()
                    .newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            return SCALAR;
        }
    }
}
