package io.diem.agent.engine;

import java.util.concurrent.atomic.AtomicBoolean;

/** A flag a job checks between steps; set by the caller going away, a deadline, or an operator. */
public final class Cancellation {

    private final AtomicBoolean cancelled = new AtomicBoolean();

    public void cancel() {
        cancelled.set(true);
    }

    public boolean isCancelled() {
        return cancelled.get();
    }
}
