package io.diem.gateway.call;

import io.diem.gateway.call.Admission.Admitted;
import io.diem.gateway.call.Jobs.State;
import io.diem.gateway.error.GatewayException.Kind;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.ledger.Credit;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerViews;
import io.diem.gateway.ledger.Reservation;
import io.diem.gateway.metrics.GatewayMetrics;
import io.diem.gateway.nodes.Node;
import io.diem.gateway.nodes.NodeLink.NodeFailure;
import io.diem.gateway.nodes.NodeLink;
import io.diem.gateway.nodes.NodePicker;
import io.diem.gateway.nodes.TicketKeys;
import io.diem.sign.TicketMinter;
import io.diem.v1.ExecuteRequest;
import io.diem.v1.ExecuteResponse;
import io.diem.v1.ExecuteSummary;
import io.diem.v1.GenerateRequest;
import io.diem.v1.JobTicket;
import io.diem.v1.TokenDelta;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;

/**
 * The second step of a call: pick a node, mint its ticket, record the job, relay the node's stream
 * to the caller; the caller ends with usage and the balance after. A node that fails before its first token
 * is replaced by another (up to the attempt limit, its job abandoned and never charged); one that
 * fails later ends the call with UNAVAILABLE, and the caller is charged only for what was delivered
 * (when the receipt is booked). Calls that end without a dispatch release their reservation.
 */
public final class Dispatcher {

    /** A call whose stream the node finished: its summary, its cost in µUSD and the caller's balance after. */
    public record Completed(String jobId, String nodeId, ExecuteSummary summary, long costMicroUsd,
            LedgerViews.Balance balanceAfter) {}

    /** The call's hold could not be recorded with its first job (see {@link GenerateCalls}); nothing was dispatched. */
    public static final class HoldRefused extends RuntimeException {
        private final GatewayException refusal;

        HoldRefused(GatewayException refusal) {
            super(refusal.getMessage(), refusal, false, false);
            this.refusal = refusal;
        }

        public GatewayException refusal() {
            return refusal;
        }
    }

    /** Where the relayed stream goes: the caller's connection, and whether it is still there. */
    public interface Caller {
        void send(TokenDelta delta);

        boolean cancelled();
    }

    private final Ledger ledger;
    private final NodePicker picker;
    private final TicketKeys ticketKeys;
    private final NodeLink link;
    private final Jobs jobs;
    private final GatewayMetrics metrics;
    private final CallLimits limits;

    public Dispatcher(Ledger ledger, NodePicker picker, TicketKeys ticketKeys, NodeLink link, Jobs jobs, GatewayMetrics metrics,
            CallLimits limits) {
        this.ledger = ledger;
        this.picker = picker;
        this.ticketKeys = ticketKeys;
        this.link = link;
        this.jobs = jobs;
        this.metrics = metrics;
        this.limits = limits;
    }

    /** Dispatches (retrying nodes that fail before the first token) and relays the stream. */
    public Completed run(GenerateRequest request, Admitted call, Caller caller) {
        String model = call.price().model();
        Set<String> tried = new HashSet<>();
        NodeFailure lastFailure = null;
        long nodeNanos = 0;
        for (int attempt = 0; attempt < limits.dispatchAttempts(); attempt++) {
            Node node = picker.pick(model, tried).orElse(null);
            if (node == null) {
                break;
            }
            tried.add(node.nodeId());
            String jobId = "job_" + UUID.randomUUID();
            ExecuteRequest execute = ticketed(request, call, node, jobId);
            long relayed = 0;
            ExecuteSummary summary = null;
            long dispatchedAt = System.nanoTime();
            Completed done = null;
            picker.inflight(node.nodeId()).incrementAndGet();
            NodeLink.Relay stream = link.execute(node, jobId, execute);
            try {
                while (stream.hasNext()) {
                    ExecuteResponse r = stream.next();
                    if (r.hasDelta()) {
                        if (relayed == 0 && r.getDelta().getTokenIdsCount() > 0) {
                            metrics.timeToFirstToken(model, System.nanoTime() - call.startNanos());
                        }
                        relayed += r.getDelta().getTokenIdsCount();
                        caller.send(r.getDelta());
                    } else if (r.hasSummary()) {
                        summary = r.getSummary();
                    }
                }
                nodeNanos += System.nanoTime() - dispatchedAt;
                if (summary == null) {
                    jobs.recordRelayed(jobId, 0, relayed, false);
                    throw new GatewayException(Kind.UNAVAILABLE, "node " + node.nodeId() + " ended the stream without a summary after "
                            + relayed + " tokens; you are charged only for what was delivered");
                }
                long cost = call.price().chargeMicroUsd(summary.getPromptTokens(), summary.getCompletionTokens(), summary.getGpuMicros());
                long promptTokens = summary.getPromptTokens();
                long completionTokens = relayed;
                // The relay record and the balance after, in one transaction.
                LedgerViews.Balance after = ledger.tx().run(sql -> {
                    Jobs.recordRelayed(sql, jobId, promptTokens, completionTokens, true, ledger.now());
                    return balanceAfter(call, cost, ledger.balanceWith(sql, call.key().accountId(), call.callId()));
                });
                done = new Completed(jobId, node.nodeId(), summary, cost, after);
                picker.outliers().succeeded(node.nodeId());
            } catch (NodeFailure e) {
                nodeNanos += System.nanoTime() - dispatchedAt;
                if (caller.cancelled() || e.failureCause() == NodeFailure.Cause.CANCELLED
                        || e.failureCause() == NodeFailure.Cause.DEADLINE_EXCEEDED) {
                    jobs.recordRelayed(jobId, 0, relayed, false); // the node's receipt books what it used, capped at this
                    throw e.failureCause() == NodeFailure.Cause.DEADLINE_EXCEEDED
                            ? new GatewayException(Kind.DEADLINE_EXCEEDED, e.getMessage())
                            : new GatewayException(Kind.CANCELLED, "call cancelled");
                }
                if (e.failureCause() == NodeFailure.Cause.NODE_FAILED) {
                    picker.outliers().failed(node.nodeId());
                }
                if (relayed == 0) {
                    jobs.transition(jobId, State.DISPATCHED, State.ABANDONED); // never charged
                    if (e.failureCause() != NodeFailure.Cause.INVALID_REQUEST) {
                        lastFailure = e; // try another node
                        continue;
                    }
                    ledger.release(call.hold());
                    throw new GatewayException(Kind.INVALID_ARGUMENT, e.getMessage()); // the node found the request itself invalid
                }
                jobs.recordRelayed(jobId, 0, relayed, false);
                throw new GatewayException(Kind.UNAVAILABLE, "node " + node.nodeId() + " failed after " + relayed
                        + " tokens (" + e.code() + "); you are charged only for what was delivered");
            } finally {
                picker.inflight(node.nodeId()).decrementAndGet();
                stream.close(); // the relay record is written: the node may be told to stop, its receipt may be booked
            }
            long total = System.nanoTime() - call.startNanos();
            metrics.latency(model, total);
            metrics.overhead(model, total - nodeNanos);
            return done;
        }
        ledger.release(call.hold());
        throw new GatewayException(Kind.UNAVAILABLE, "no node could run the call (" + tried.size() + " tried"
                + (lastFailure == null ? "" : "; last: " + lastFailure.code() + " " + lastFailure.getMessage())
                + "); nothing was charged");
    }

    /** The node's request: the caller's, with its ticket and the max_tokens the reservation assumed. */
    private ExecuteRequest ticketed(GenerateRequest request, Admitted call, Node node, String jobId) {
        long now = ledger.now();
        JobTicket ticket = JobTicket.newBuilder().setJobId(jobId).setNodeId(node.nodeId()).setAccountRef(call.callId())
                .setModel(call.price().model()).setMaxPromptTokens((int) call.maxPromptTokens()).setMaxCompletionTokens(call.maxTokens())
                .setGpuMicrosLimit(limits.gpuMicrosPerCall()).setIssuedAtUnixMicros(now)
                .setExpiresAtUnixMicros(now + limits.ticketTtl().toNanos() / 1000).build();
        Jobs.Job job = new Jobs.Job(jobId, call.callId(), call.key().accountId(), call.key().keyId(), node.nodeId(),
                call.price().model(), call.maxPromptTokens(), call.maxTokens(), limits.gpuMicrosPerCall(), now, State.DISPATCHED,
                false, 0, 0, 0);
        boolean first = !call.hold().recorded();
        try {
            ledger.recordingHold(call.hold(), sql -> { // the first job commits with the call's reservation
                Jobs.insert(sql, job);
                return null;
            });
        } catch (GatewayException e) {
            if (first && e.kind() == Kind.RESOURCE_EXHAUSTED) {
                ledger.release(call.hold()); // unrecorded: back to its lease
                throw new HoldRefused(e);
            }
            throw e;
        }
        GenerateRequest forNode = request.getSampling().getMaxTokens() == 0
                ? request.toBuilder().setSampling(request.getSampling().toBuilder().setMaxTokens(call.maxTokens())).build() : request;
        return ExecuteRequest.newBuilder().setTicket(TicketMinter.mint(ticketKeys.forNode(node.nodeId()), ticket))
                .setRequest(forNode).build();
    }

    /** The balance after the call: its charge is booked when the receipt arrives, but shown applied now. */
    private static LedgerViews.Balance balanceAfter(Admitted call, long cost, Credit.BalanceWithReservation both) {
        LedgerViews.Balance b = both.balance();
        long reserved = both.reservation().filter(r -> r.state() == Reservation.State.PENDING).map(Reservation::amount).orElse(0L);
        long spent = b.spent() + (reserved > 0 ? Math.min(cost, reserved) : 0);
        long held = b.reserved() - reserved;
        return new LedgerViews.Balance(b.accountId(), b.allowance(), spent, held, Math.max(0, b.allowance() - spent - held),
                b.resetsAt());
    }
}
