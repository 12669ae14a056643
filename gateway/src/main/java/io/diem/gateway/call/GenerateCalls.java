package io.diem.gateway.call;

import io.diem.gateway.ledger.LedgerViews;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One Generate call from start to end, whichever API it came in by (gRPC {@code Inference/Generate}
 * or the OpenAI-style HTTP API): take one of the key's concurrent-call slots, admit (validate, price,
 * reserve), dispatch and relay, give the slot back. Both front ends call only this, so they cannot
 * drift apart in what they check or charge. Counts the calls in flight for a draining gateway.
 */
public final class GenerateCalls {

    private final Admission admission;
    private final Dispatcher dispatcher;
    private final AtomicInteger inFlight = new AtomicInteger();

    public GenerateCalls(Admission admission, Dispatcher dispatcher) {
        this.admission = admission;
        this.dispatcher = dispatcher;
    }

    /**
     * Runs the call; throws the refusal ({@code GatewayException}) or the failure that ended it.
     *
     * @param startNanos when the call arrived ({@link System#nanoTime()}), for latency metrics
     */
    public Dispatcher.Completed run(io.diem.v1.GenerateRequest request, LedgerViews.ApiKey key, long startNanos,
            Dispatcher.Caller caller) {
        admission.enter(key);
        inFlight.incrementAndGet();
        try {
            Admission.Admitted admitted = admission.admit(request, key, startNanos);
            try {
                return dispatcher.run(request, admitted, caller);
            } catch (Dispatcher.HoldRefused e) {
                // The lease the call's credit was carved from closed before its first job was recorded,
                // and the exact reservation found too little credit: the same refusal admission gives.
                throw admission.creditRefusal(e.refusal(), key, admitted.worstCaseMicroUsd());
            }
        } finally {
            inFlight.decrementAndGet();
            admission.leave(key);
        }
    }

    /** Calls running now, on either API (a draining gateway waits for them before it ends the node sessions). */
    public int inFlight() {
        return inFlight.get();
    }
}
