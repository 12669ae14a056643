package io.diem.gateway.usage;

import io.diem.gateway.call.Jobs.State;
import io.diem.gateway.call.Jobs;
import io.diem.gateway.error.GatewayException.Kind;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerViews.UsageRecord;
import io.diem.gateway.ledger.Pricing;
import io.diem.gateway.metrics.GatewayMetrics;
import io.diem.gateway.nodes.Node;
import io.diem.gateway.nodes.NodeDirectory;
import io.diem.sign.VerificationException;
import io.diem.v1.ComputeKind;
import io.diem.v1.ReceiptBatch;
import io.diem.v1.ReceiptRejection;
import io.diem.v1.ReportUsageRequest;
import io.diem.v1.ReportUsageResponse;
import io.diem.v1.SignedEnvelope;
import io.diem.v1.UsageReceipt;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * Books signed receipt batches: verifies signature and chain (in order, resends acknowledged again
 * but booked once), matches each receipt to a ticket this gateway issued to that node, checks it is
 * plausible, and turns the job's reservation into its charge, crediting the node. Implausible or
 * unmatched receipts flag the node and are not paid; a job whose receipt never comes is charged at
 * what the gateway relayed ({@link #settleOverdue}).
 */
public final class ReceiptBooking {

    private static final Logger LOG = Logger.getLogger(ReceiptBooking.class.getName());

    private final Ledger ledger;
    private final NodeDirectory nodes;
    private final ReceiptChains chains;
    private final Jobs jobs;
    private final GatewayMetrics metrics;

    public ReceiptBooking(Ledger ledger, NodeDirectory nodes, Jobs jobs, GatewayMetrics metrics) {
        this.ledger = ledger;
        this.nodes = nodes;
        this.chains = new ReceiptChains(nodes);
        this.jobs = jobs;
        this.metrics = metrics;
    }

    public ReportUsageResponse report(ReportUsageRequest request) {
        if (request.getBatchesCount() == 0) {
            throw new GatewayException(Kind.INVALID_ARGUMENT, "no batches");
        }
        String nodeId = request.getBatches(0).getKeyId();
        ReceiptChains.Position position = chains.open(nodeId);
        Node node = position.node();
        ReportUsageResponse.Builder response = ReportUsageResponse.newBuilder();
        for (SignedEnvelope envelope : request.getBatchesList()) {
            ReceiptBatch batch;
            try {
                batch = position.chain().accept(envelope, nodeId, node.publicKey());
            } catch (VerificationException e) {
                if (e.reason() == VerificationException.Reason.SEQUENCE_REPLAYED) {
                    continue; // already booked: acknowledged again below
                }
                metrics.receiptBatchRejected(e.reason().name());
                if (signedEvidence(e.reason())) {
                    nodes.flag(nodeId, "receipt batch refused: " + e.getMessage());
                }
                LOG.warning("node " + nodeId + ": " + e.getMessage());
                break;
            }
            for (UsageReceipt receipt : batch.getReceiptsList()) {
                book(node, receipt).ifPresent(reason -> response.addRejections(ReceiptRejection.newBuilder()
                        .setJobId(receipt.getJobId()).setReason(reason)));
            }
            chains.acknowledge(position);
        }
        return response.setAcknowledgedSequence(position.chain().lastSequence()).build();
    }

    /**
     * Whether a refused batch is evidence against its node: only when the node's key verifiably signed
     * what is wrong (a payload that does not parse, a chain it broke). A bad signature, a foreign key or
     * a gap proves nothing about the node, so it is refused without touching the node.
     */
    static boolean signedEvidence(VerificationException.Reason reason) {
        return reason == VerificationException.Reason.MALFORMED || reason == VerificationException.Reason.CHAIN_BROKEN;
    }

    /** Books one receipt; returns why it is not paid, if it is not. */
    private Optional<String> book(Node node, UsageReceipt r) {
        Optional<Jobs.Job> found = jobs.get(r.getJobId());
        if (found.isEmpty() || !found.get().nodeId().equals(node.nodeId())) {
            String why = "no ticket for job " + r.getJobId() + " was issued to this node";
            flag(node.nodeId(), why);
            metrics.receiptRejected("unknown_ticket");
            return Optional.of(why);
        }
        Jobs.Job job = found.get();
        switch (job.state()) {
            case BOOKED, SETTLED_RELAYED:
                metrics.receiptRejected("duplicate");
                return Optional.empty(); // booked once already; nothing more to do
            case ABANDONED:
                metrics.receiptRejected("abandoned");
                return Optional.of("job failed before its first token and was retried elsewhere; not charged");
            case DISPATCHED:
                break;
        }
        String implausible = implausibility(job, r);
        Pricing price = priceOf(job);
        if (implausible != null) {
            flag(node.nodeId(), implausible);
            settleAtRelayed(job, price, "implausible receipt");
            metrics.receiptRejected("implausible");
            return Optional.of(implausible);
        }
        long cost = price.chargeMicroUsd(r.getPromptTokens(), r.getCompletionTokens(), r.getGpuMicros());
        if (!job.streamComplete()) {
            // The stream broke or was cancelled: charge no more than what was delivered.
            cost = Math.min(cost, price.chargeMicroUsd(r.getPromptTokens(), job.relayedCompletion(), r.getGpuMicros()));
        }
        try {
            ledger.post(job.reservationId(), new UsageRecord(job.jobId(), null, null, job.model(), node.nodeId(),
                    r.getPromptTokens(), r.getCompletionTokens(), r.getGpuMicros(), kind(r.getComputeKind()), cost,
                    r.getFinishReason().name().replace("FINISH_REASON_", "").toLowerCase(Locale.ROOT), null), true);
        } catch (GatewayException e) {
            // The reservation is gone (expired or settled another way): nothing left to charge against.
            jobs.transition(job.jobId(), State.DISPATCHED, State.SETTLED_RELAYED);
            metrics.receiptRejected("reservation_closed");
            return Optional.of("not charged: " + e.getMessage());
        }
        jobs.transition(job.jobId(), State.DISPATCHED, State.BOOKED);
        metrics.receiptBooked();
        return Optional.empty();
    }

    private static String implausibility(Jobs.Job job, UsageReceipt r) {
        long wall = r.getFinishedAtUnixMicros() - r.getStartedAtUnixMicros();
        long devices = Math.max(1, r.getGpusUsed());
        if (wall < 0) {
            return "receipt finishes before it starts";
        }
        if (r.getGpuMicros() > wall * devices + 1_000) {
            return "receipt claims " + r.getGpuMicros() + " µs of compute in " + wall + " µs of wall time on " + devices + " devices";
        }
        if (r.getCompletionTokens() > job.maxCompletionTokens()) {
            return "receipt claims " + r.getCompletionTokens() + " completion tokens; the ticket allowed " + job.maxCompletionTokens();
        }
        if (r.getPromptTokens() > job.maxPromptTokens()) {
            return "receipt claims " + r.getPromptTokens() + " prompt tokens; the ticket allowed " + job.maxPromptTokens();
        }
        if (!r.getModel().equals(job.model())) {
            return "receipt is for model " + r.getModel() + "; the ticket was for " + job.model();
        }
        return null;
    }

    private void flag(String nodeId, String reason) {
        nodes.flag(nodeId, reason);
        LOG.warning("flagged node " + nodeId + ": " + reason);
    }

    private Pricing priceOf(Jobs.Job job) {
        return ledger.price(job.model()).orElse(new Pricing(job.model(), 0, 0, 0));
    }

    /** Charges a job at what the gateway relayed (no trustworthy receipt); the node is not paid. */
    void settleAtRelayed(Jobs.Job job, Pricing price, String why) {
        long cost = price.chargeMicroUsd(job.relayedPrompt(), job.relayedCompletion(), 0);
        try {
            ledger.post(job.reservationId(), new UsageRecord(job.jobId(), null, null, job.model(), job.nodeId(),
                    job.relayedPrompt(), job.relayedCompletion(), 0, "relayed", cost, why, null), false);
        } catch (GatewayException e) {
            LOG.warning("job " + job.jobId() + ": could not settle at relayed (" + e.getMessage() + ")");
        }
        jobs.transition(job.jobId(), State.DISPATCHED, State.SETTLED_RELAYED);
    }

    /** Jobs whose stream ended more than {@code receiptTtl} ago with no receipt: charge at relayed, flag the node. */
    public int settleOverdue(Duration receiptTtl) {
        int settled = 0;
        for (Jobs.Job job : jobs.awaitingReceipt(ledger.now() - receiptTtl.toNanos() / 1000)) {
            settleAtRelayed(job, priceOf(job), "no receipt within " + receiptTtl.toSeconds() + " s");
            flag(job.nodeId(), "no receipt for job " + job.jobId() + " within " + receiptTtl.toSeconds() + " s");
            settled++;
        }
        return settled;
    }

    private static String kind(ComputeKind k) {
        return k == ComputeKind.COMPUTE_KIND_GPU ? "gpu" : "cpu";
    }
}
