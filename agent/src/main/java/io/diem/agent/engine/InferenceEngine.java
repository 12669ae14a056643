package io.diem.agent.engine;

import io.diem.agent.model.Model;
import io.diem.v1.ComputeKind;

/**
 * Runs a loaded model. Implementations: the CPU reference engine and the CUDA engine. The generation
 * loop ({@link Generator}), the sampler and the metering are shared; an engine only provides the
 * forward pass over a {@link Sequence}.
 */
public interface InferenceEngine extends AutoCloseable {

    /** "cpu" or "cuda". */
    String name();

    /** Which clock this engine's meter reads (CPU time or GPU event time). */
    ComputeKind computeKind();

    /** A fresh sequence of at most {@code capacity} tokens for {@code model}. */
    Sequence newSequence(Model model, int capacity);

    @Override
    void close();
}
