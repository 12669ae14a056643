package io.diem.agent.engine;

/**
 * One sequence's state on an engine: its KV cache and activations, allocated once. Not thread-safe:
 * one job drives it at a time.
 */
public interface Sequence extends AutoCloseable {

    /** Tokens already in the KV cache. */
    int position();

    /** Most tokens the cache can hold (prompt + completion). */
    int capacity();

    /**
     * Appends {@code tokens} at positions {@code position() …} and returns the logits (vocab) that
     * predict the token after the last one. The array is reused by the next call.
     */
    float[] step(int[] tokens);

    /** Bytes of memory this sequence's KV cache holds (host memory on the CPU engine, device memory on CUDA). */
    long kvCacheBytes();

    /** Compute time of the last {@link #step}, in nanoseconds, by the engine's meter (CPU or GPU time). */
    long lastStepComputeNanos();

    @Override
    void close();

    /** The checks every engine makes before a step: tokens present, room in the cache, ids in the vocabulary. */
    static void checkStep(int[] tokens, int position, int capacity, int vocabSize) {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("a step needs at least one token");
        }
        if (position + tokens.length > capacity) {
            throw new IllegalArgumentException("step of " + tokens.length + " tokens at position " + position
                    + " exceeds the sequence capacity of " + capacity);
        }
        for (int t : tokens) {
            if (t < 0 || t >= vocabSize) {
                throw new IllegalArgumentException("token id " + t + " is outside the vocabulary (0.." + (vocabSize - 1) + ")");
            }
        }
    }
}
