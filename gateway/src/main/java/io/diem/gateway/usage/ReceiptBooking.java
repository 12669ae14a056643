package io.diem.gateway.usage;

import io.diem.gateway.dispatch.NodeRegistry;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerException;
import io.diem.gateway.ledger.LedgerViews.UsageRecord;
import io.diem.gateway.ledger.Pricing;
import io.diem.gateway.metrics.GatewayMetrics;
import io.diem.sign.ReceiptChain;
import io.diem.sign.VerificationException;
import io.diem.v1.ComputeKind;
import io.diem.v1.ReceiptBatch;
import io.diem.v1.ReceiptRejection;
import io.diem.v1.ReportUsageRequest;
import io.diem.v1.ReportUsageResponse;
import io.diem.v1.SignedEnvelope;
import io.diem.v1.UsageReceipt;
import io.grpc.Status;
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
    private final NodeRegistry nodes;
    private final JobStore jobs;
    private final GatewayMetrics metrics;

    public ReceiptBooking(Ledger ledger, NodeRegistry nodes, JobStore jobs, GatewayMetrics metrics) {
        this.ledger = ledger;
        this.nodes = nodes;
        this.jobs = jobs;
        this.metrics = metrics;
    }

    public ReportUsageResponse report(ReportUsageRequest request) {
        if (request.getBatchesCount() == 0) {
            throw Status.INVALID_ARGUMENT.withDescription("no batches").asRuntimeException();
        }
        String nodeId = request.getBatches(0).getKeyId();
        NodeRegistry.Node node = nodes.node(nodeId).orElseThrow(() -> Status.NOT_FOUND
                .withDescription("node " + nodeId + " is not registered").asRuntimeException());
        if (node.state().equals("revoked")) {
            throw Status.PERMISSION_DENIED.withDescription("node " + nodeId + " is revoked").asRuntimeException();
        }
        ReceiptChain chain = new ReceiptChain(node.ackedSequence(), node.ackedHash());
        ReportUsageResponse.Builder response = ReportUsageResponse.newBuilder();
        for (SignedEnvelope envelope : request.getBatchesList()) {
            ReceiptBatch batch;
            try {
                batch = chain.accept(envelope, nodeId, node.publicKey());
            } catch (VerificationException e) {
                if (e.reason() == VerificationException.Reason.SEQUENCE_REPLAYED) {
                    continue; // already booked: acknowledged again below
                }
                metrics.receiptBatchRejected(e.reason().name());
                if (e.reason() != VerificationException.Reason.SEQUENCE_GAP) {
                    ledger.tx(c -> {
                        nodes.flag(c, nodeId, "receipt batch refused: " + e.getMessage());
                        return null;
                    });
                }
                LOG.warning("node " + nodeId + ": " + e.getMessage());
                break;
            }
            for (UsageReceipt receipt : batch.getReceiptsList()) {
                book(node, receipt).ifPresent(reason -> response.addRejections(ReceiptRejection.newBuilder()
                        .setJobId(receipt.getJobId()).setReason(reason)));
            }
            long sequence = chain.lastSequence();
            byte[] hash = chain.lastHash();
            ledger.tx(c -> {
                nodes.setAcknowledged(c, nodeId, sequence, hash);
                return null;
            });
        }
        return response.setAcknowledgedSequence(chain.lastSequence()).build();
    }

    /** Books one receipt; returns why it is not paid, if it is not. */
    private Optional<String> book(NodeRegistry.Node node, UsageReceipt r) {
        Optional<JobStore.Job> found = jobs.get(r.getJobId());
        if (found.isEmpty() || !found.get().nodeId().equals(node.nodeId())) {
            String why = "no ticket for job " + r.getJobId() + " was issued to this node";
            flag(node.nodeId(), why);
            metrics.receiptRejected("unknown_ticket");
            return Optional.of(why);
        }
        JobStore.Job job = found.get();
        switch (job.state()) {
            case "booked", "settled_relayed":
                metrics.receiptRejected("duplicate");
                return Optional.empty(); // booked once already; nothing more to do
            case "abandoned":
                metrics.receiptRejected("abandoned");
                return Optional.of("job failed before its first token and was retried elsewhere; not charged");
            default:
                break;
        }
        String implausible = implausibility(job, r);
        Pricing price = ledger.price(job.model()).orElse(new Pricing(job.model(), 0, 0, 0));
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
        } catch (LedgerException e) {
            // The reservation is gone (expired or settled another way): nothing left to charge against.
            jobs.transition(job.jobId(), "dispatched", "settled_relayed");
            metrics.receiptRejected("reservation_closed");
            return Optional.of("not charged: " + e.getMessage());
        }
        jobs.transition(job.jobId(), "dispatched", "booked");
        metrics.receiptBooked();
        return Optional.empty();
    }

    private static String implausibility(JobStore.Job job, UsageReceipt r) {
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
        ledger.tx(c -> {
            nodes.flag(c, nodeId, reason);
            return null;
        });
        LOG.warning("flagged node " + nodeId + ": " + reason);
    }

    /** Charges a job at what the gateway relayed (no trustworthy receipt); the node is not paid. */
    void settleAtRelayed(JobStore.Job job, Pricing price, String why) {
        long cost = price.chargeMicroUsd(job.relayedPrompt(), job.relayedCompletion(), 0);
        try {
            ledger.post(job.reservationId(), new UsageRecord(job.jobId(), null, null, job.model(), job.nodeId(),
                    job.relayedPrompt(), job.relayedCompletion(), 0, "relayed", cost, why, null), false);
        } catch (LedgerException e) {
            LOG.warning("job " + job.jobId() + ": could not settle at relayed (" + e.getMessage() + ")");
        }
        jobs.transition(job.jobId(), "dispatched", "settled_relayed");
    }

    /** Jobs whose stream ended more than {@code receiptTtl} ago with no receipt: charge at relayed, flag the node. */
    public int settleOverdue(Duration receiptTtl) {
        int settled = 0;
        for (JobStore.Job job : jobs.awaitingReceipt(ledger.now() - receiptTtl.toNanos() / 1000)) {
            Pricing price = ledger.price(job.model()).orElse(new Pricing(job.model(), 0, 0, 0));
            settleAtRelayed(job, price, "no receipt within " + receiptTtl.toSeconds() + " s");
            flag(job.nodeId(), "no receipt for job " + job.jobId() + " within " + receiptTtl.toSeconds() + " s");
            settled++;
        }
        return settled;
    }

    private static String kind(ComputeKind k) {
        return k == ComputeKind.COMPUTE_KIND_GPU ? "gpu" : "cpu";
    }
}
