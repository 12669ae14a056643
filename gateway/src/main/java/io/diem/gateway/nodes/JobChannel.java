package io.diem.gateway.nodes;

import io.diem.gateway.nodes.NodeLink.NodeFailure;
import io.diem.v1.ExecuteResponse;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * One job's events as they arrive on its node's session: deltas, then the summary (the end), or a
 * failure. The session thread offers, the dispatching thread iterates (blocking); a failure — the
 * node's error, the session closing, the caller cancelling — ends the iteration with {@link NodeFailure}.
 */
public final class JobChannel implements Iterator<ExecuteResponse> {

    private sealed interface Item permits Event, Failed {}

    private record Event(ExecuteResponse response) implements Item {}

    private record Failed(NodeFailure failure) implements Item {}

    private final String jobId;
    private final LinkedBlockingQueue<Item> items = new LinkedBlockingQueue<>();
    private final java.util.concurrent.CompletableFuture<Void> recorded = new java.util.concurrent.CompletableFuture<>();
    private Item next;
    private boolean ended;

    JobChannel(String jobId) {
        this.jobId = jobId;
    }

    public String jobId() {
        return jobId;
    }

    /** An event from the node (session thread). */
    void offer(ExecuteResponse response) {
        items.add(new Event(response));
    }

    /** Ends the job with a failure (any thread); later events are ignored by the reader. */
    public void fail(NodeFailure failure) {
        items.add(new Failed(failure));
    }

    /** The dispatcher has recorded what it relayed of this job (or given up on it). */
    public void recorded() {
        recorded.complete(null);
    }

    /** Waits up to {@code nanos} for {@link #recorded}; false on time-out. */
    boolean awaitRecorded(long nanos) {
        try {
            recorded.get(Math.max(0, nanos), java.util.concurrent.TimeUnit.NANOSECONDS);
            return true;
        } catch (java.util.concurrent.TimeoutException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (java.util.concurrent.ExecutionException e) {
            return true;
        }
    }

    @Override
    public boolean hasNext() {
        if (ended) {
            return false;
        }
        if (next == null) {
            try {
                next = items.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                next = new Failed(new NodeFailure(NodeFailure.Cause.CANCELLED, "CANCELLED", "interrupted"));
            }
        }
        if (next instanceof Failed f) {
            ended = true;
            throw f.failure();
        }
        return true;
    }

    @Override
    public ExecuteResponse next() {
        if (!hasNext()) {
            throw new NoSuchElementException("job " + jobId + " has ended");
        }
        ExecuteResponse r = ((Event) next).response();
        next = null;
        if (r.hasSummary()) {
            ended = true; // the summary is a job's last event
        }
        return r;
    }
}
