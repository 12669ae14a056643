package io.diem.agent.serve;

import io.diem.agent.engine.Cancellation;
import io.diem.agent.engine.GenerationRequest;
import io.diem.agent.engine.GenerationResult;
import io.diem.agent.engine.TokenSink;
import io.diem.agent.model.Model;
import io.diem.v1.JobTicket;
import java.util.function.BiConsumer;

/**
 * One admitted job: what to run, where its tokens go, and who is told when it ends. The scheduler
 * calls {@code onFinish} exactly once, with the result or the failure (never both).
 */
public final class Job {

    final JobTicket ticket;
    final Model model;
    final GenerationRequest request;
    final TokenSink sink;
    final Cancellation cancellation = new Cancellation();
    final BiConsumer<GenerationResult, Throwable> onFinish;
    /** Wall clock (µs since the epoch) and monotonic time of admission. */
    final long admittedAtUnixMicros;
    final long admittedNanos;
    /** The device whose scheduler ran (or finished) the job; set before it runs. */
    volatile JobScheduler ranOn;
    /** Progress so far, for the job journal: compute metered by the steps run, completion tokens streamed. */
    private final java.util.concurrent.atomic.AtomicLong computeNanos = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicInteger streamed = new java.util.concurrent.atomic.AtomicInteger();

    public Job(JobTicket ticket, Model model, GenerationRequest request, TokenSink sink,
            BiConsumer<GenerationResult, Throwable> onFinish, long admittedAtUnixMicros) {
        this.ticket = ticket;
        this.model = model;
        this.request = request;
        this.sink = sink;
        this.onFinish = onFinish;
        this.admittedAtUnixMicros = admittedAtUnixMicros;
        this.admittedNanos = System.nanoTime();
    }

    public String id() {
        return ticket.getJobId();
    }

    void addCompute(long nanos) {
        computeNanos.addAndGet(nanos);
    }

    long computeNanos() {
        return computeNanos.get();
    }

    void addStreamed(int tokens) {
        streamed.addAndGet(tokens);
    }

    int streamed() {
        return streamed.get();
    }

    public void cancel() {
        cancellation.cancel();
    }

    public boolean isCancelled() {
        return cancellation.isCancelled();
    }
}
