package io.diem.agent.engine;

import io.diem.agent.model.Model;
import io.diem.v1.ComputeKind;
import io.diem.v1.GpuInfo;
import java.util.Optional;

/**
 * Runs a loaded model. Implementations: the CPU reference engine and the CUDA engine. The generation
 * loop ({@link Generator}), the sampler and the metering are shared; an engine only provides the
 * forward pass over a {@link Sequence}.
 */
public interface InferenceEngine extends AutoCloseable {

    /** "cpu" or "cuda". */
    String name();

    /** The device this engine runs on, as metrics and logs name it: "cpu", or "cuda" + the GPU's index. */
    String device();

    /** Which clock this engine's meter reads (CPU time or GPU event time). */
    ComputeKind computeKind();

    /**
     * How many devices one job uses at once: the CPU engine's worker threads, or one GPU. A job's
     * metered compute never exceeds its wall time × this, which is what the gateway checks receipts against.
     */
    int parallelism();

    /** The GPU this engine drives, with its memory in use now; empty for the CPU engine. */
    default Optional<GpuInfo> gpu() {
        return Optional.empty();
    }

    /** Makes the model ready to run here (the CUDA engine uploads its weights); called for every served model at start. */
    default void prepare(Model model) {}

    /** A fresh sequence of at most {@code capacity} tokens for {@code model}. */
    Sequence newSequence(Model model, int capacity);

    /**
     * Memory for KV caches on this device, in bytes, when the operator sets none: for the CPU engine
     * (whose caches are on the Java heap) two fifths of the heap.
     */
    default long kvMemoryBytes() {
        return Runtime.getRuntime().maxMemory() / 5 * 2;
    }

    /** Positions per KV block: the unit in which the device's KV memory is counted and handed out. */
    default int kvBlockTokens() {
        return 16;
    }

    /** What a step over several sequences produced: each one's logits, in order, and the step's compute (ns, this engine's meter). */
    record BatchStep(float[][] logits, long computeNanos) {}

    /**
     * Appends {@code tokens.get(i)} to {@code sequences.get(i)} for every i (sequences of this engine,
     * each at most once) and returns each one's logits for the token after its last. An engine that can
     * overrides this to read every weight once for the whole batch, with each sequence's results exactly
     * those it would get stepped alone; this default steps them one after the other.
     */
    default BatchStep stepAll(java.util.List<Sequence> sequences, java.util.List<int[]> tokens) {
        float[][] logits = new float[sequences.size()][];
        long compute = 0;
        for (int i = 0; i < logits.length; i++) {
            Sequence s = sequences.get(i);
            logits[i] = s.step(tokens.get(i));
            compute += s.lastStepComputeNanos();
        }
        return new BatchStep(logits, compute);
    }

    @Override
    void close();
}
