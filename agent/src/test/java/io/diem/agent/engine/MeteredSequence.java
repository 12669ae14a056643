package io.diem.agent.engine;

import java.util.function.LongConsumer;

/**
 * For tests: a sequence that reports each step's metered compute as it happens. Closing it leaves the
 * wrapped sequence open: whoever opened that closes it.
 */
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
    public long kvCacheBytes() {
        return inner.kvCacheBytes();
    }

    @Override
    public void close() {
        // the scheduler closes the sequence it opened
    }
}
