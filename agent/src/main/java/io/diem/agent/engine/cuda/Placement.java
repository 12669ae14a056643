package io.diem.agent.engine.cuda;

import io.diem.agent.model.LlamaWeights;
import io.diem.agent.model.ModelConfig;

/**
 * Device memory arithmetic: what a model needs on a GPU (its weights as stored, norms and biases as
 * float32) and how many tokens of KV cache the memory left after a safety reserve can hold.
 * Refusals carry the numbers: needed vs free bytes.
 */
public final class Placement {

    /** Memory left unused for the driver, cuBLAS-free kernels' scratch and fragmentation. */
    public static final long RESERVE_BYTES = 512L << 20;

    private Placement() {}

    /** Bytes the weights occupy on the device. */
    public static long weightBytes(LlamaWeights w) {
        return w.bytes() - smallTensorsStoredBytes(w) + smallTensorsFloatBytes(w);
    }

    private static long smallTensorsStoredBytes(LlamaWeights w) {
        long total = w.finalNorm.elements() * w.finalNorm.dtype.bytes;
        for (int l = 0; l < w.attentionNorm.length; l++) {
            total += w.attentionNorm[l].elements() * w.attentionNorm[l].dtype.bytes;
            total += w.ffnNorm[l].elements() * w.ffnNorm[l].dtype.bytes;
            for (var b : new io.diem.agent.model.Tensor[] {w.bq[l], w.bk[l], w.bv[l], w.bo[l]}) {
                total += b == null ? 0 : b.elements() * b.dtype.bytes;
            }
        }
        return total;
    }

    private static long smallTensorsFloatBytes(LlamaWeights w) {
        long elements = w.finalNorm.elements();
        for (int l = 0; l < w.attentionNorm.length; l++) {
            elements += w.attentionNorm[l].elements() + w.ffnNorm[l].elements();
            for (var b : new io.diem.agent.model.Tensor[] {w.bq[l], w.bk[l], w.bv[l], w.bo[l]}) {
                elements += b == null ? 0 : b.elements();
            }
        }
        return elements * 4;
    }

    /** KV cache bytes per token of context: keys and values, every layer, float32. */
    public static long kvBytesPerToken(ModelConfig c) {
        return 2L * c.layers * c.kvDim * 4;
    }

    /** Activation bytes of one sequence of {@code capacity} tokens (prefill of up to capacity tokens included). */
    public static long activationBytes(ModelConfig c, int capacity) {
        long perToken = 4L * (3L * c.dim + c.qDim + 2L * c.kvDim + c.qDim + 2L * c.hiddenDim);
        return perToken * capacity + 4L * c.heads * capacity + 4L * c.vocabSize;
    }

    /** Bytes a sequence of {@code capacity} tokens needs beyond the weights. */
    public static long sequenceBytes(ModelConfig c, int capacity) {
        return kvBytesPerToken(c) * capacity + activationBytes(c, capacity);
    }

    /** Throws with needed vs free bytes unless {@code needed} fits in {@code free} after the reserve. */
    public static void requireFits(String what, long needed, long free) {
        if (needed > free - RESERVE_BYTES) {
            throw new IllegalStateException(what + " needs " + mib(needed) + " MiB of GPU memory but only " + mib(free)
                    + " MiB are free (" + mib(RESERVE_BYTES) + " MiB kept in reserve)");
        }
    }

    /** Most tokens of context that fit in {@code free} bytes after the reserve. */
    public static int maxTokens(ModelConfig c, long free) {
        long usable = free - RESERVE_BYTES;
        long perToken = sequenceBytes(c, 1);
        return (int) Math.max(0, Math.min(c.contextLength, usable / perToken));
    }

    private static long mib(long bytes) {
        return bytes >> 20;
    }
}
