package io.diem.agent.serve;

import io.diem.agent.engine.Sequence;
import java.util.function.LongConsumer;

/** A sequence that reports each step's metered compute as it happens (the job journal's progress). */
final class MeteredSequence implements Sequence {

    private final Sequence inner;
    private final LongConsumer stepNanos;

    MeteredSequence(Sequence inner, LongConsumer stepNanos) {
        this.inner = inner;
        this.stepNanos = stepNanos;
    }

    @Override
    public int position() {
        return inner.position();
    }

    @Override
    public int capacity() {
        return inner.capacity();
    }

    @Override
    public float[] step(int[] tokens) {
        float[] logits = inner.step(tokens);
        stepNanos.accept(inner.lastStepComputeNanos());
        return logits;
    }

    @Override
    public long lastStepComputeNanos() {
        return inner.lastStepComputeNanos();
    }

    @Override
    public void close() {
        // the scheduler closes the sequence it opened
    }
}
