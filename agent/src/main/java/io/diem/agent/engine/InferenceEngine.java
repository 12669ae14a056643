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

    /** A fresh sequence of at most {@code capacity} tokens for {@code model}. */
    Sequence newSequence(Model model, int capacity);

    @Override
    void close();
}
