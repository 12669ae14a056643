package io.diem.gateway.usage;

import io.diem.gateway.call.Jobs.State;
import io.diem.gateway.call.Jobs;
import io.diem.gateway.error.GatewayException.Kind;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.ledger.Credit;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerViews.UsageRecord;
import io.diem.gateway.ledger.Prices;
import io.diem.gateway.ledger.Pricing;
import io.diem.gateway.metrics.GatewayMetrics;
import io.diem.gateway.nodes.Node;
import io.diem.gateway.nodes.NodeDirectory;
import io.diem.gateway.store.Sql;
import io.diem.gateway.store.Tx;
import io.diem.sign.VerificationException;
import io.diem.v1.ComputeKind;
import io.diem.v1.ReceiptBatch;
import io.diem.v1.ReceiptRejection;
import io.diem.v1.ReportUsageRequest;
import io.diem.v1.ReportUsageResponse;
import io.diem.v1.SignedEnvelope;
import io.diem.v1.UsageReceipt;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.logging.Logger;

/**
 * Books signed receipt batches: verifies signature and chain (in order, resends acknowledged again
 * but booked once), matches each receipt to a ticket this gateway issued to that node, checks it is
 * plausible, and turns the job's reservation into its charge, crediting the node. A batch is booked in
 * one transaction — every receipt's charge and job state and the node's chain position — so a crash
 * leaves it either wholly booked and acknowledged or not at all (and the node resends it). Implausible
 * or unmatched receipts flag the node and are not paid; a job whose receipt never comes is charged at
 * what the gateway relayed ({@link #settleOverdue}).
 */
public final class ReceiptBooking {

    private static final Logger LOG = Logger.getLogger(ReceiptBooking.class.getName());
    /** How long booking waits for another gateway to record the end of a stream it relayed. */
    static final Duration RELAY_RECORD_WAIT = Duration.ofSeconds(5);

    /** What booking one receipt came to: the metric reason, why it is not paid (or null), the flag it raised (or null). */
    /** @param chargedMicroUsd what the booking charged (0 unless booked anew) */
    private record Outcome(String jobId, String metric, String rejection, String flag, long chargedMicroUsd) {

        Outcome(String jobId, String metric, String rejection, String flag) {
            this(jobId, metric, rejection, flag, 0);
        }
    }

    private final Ledger ledger;
    private final Tx tx;
    private final Credit credit;
    private final NodeDirectory nodes;
    private final ReceiptChains chains;
    private final Jobs jobs;
    private final GatewayMetrics metrics;

    public ReceiptBooking(Ledger ledger, NodeDirectory nodes, Jobs jobs, GatewayMetrics metrics) {
        this.ledger = ledger;
        this.tx = ledger.tx();
        this.credit = ledger.credit();
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
                if (e.reason() == VerificationException.Reason.SEQUENCE_GAP) {
                    // Resync: the node no longer holds the batches between (it compacted them after an acknowledgement
                    // this ledger lost). Its signed batch names the hash it follows: continue the chain from there. Only
                    // the node's own receipts in the missing batches are lost to booking (their jobs are charged at what
                    // was relayed); nothing else changes, so the rule cannot be used against anyone but the node itself.
                    ReceiptChains.Position resynced = chains.resync(position, envelope);
                    if (resynced != null) {
                        metrics.receiptBatchRejected("resync");
                        LOG.warning("node " + nodeId + ": chain resynced from batch " + position.chain().lastSequence() + " to "
                                + (resynced.chain().lastSequence()) + " (the batches between are gone from the node)");
                        position = resynced;
                        try {
                            batch = position.chain().accept(envelope, nodeId, node.publicKey());
                        } catch (VerificationException again) {
                            LOG.warning("node " + nodeId + ": " + again.getMessage());
                            break;
                        }
                        book(position, batch, response);
                        continue;
                    }
                }
                metrics.receiptBatchRejected(e.reason().name());
                if (signedEvidence(e.reason())) {
                    flag(nodeId, "receipt batch refused: " + e.getMessage());
                }
                LOG.warning("node " + nodeId + ": " + e.getMessage());
                break;
            }
            book(position, batch, response);
        }
        return response.setAcknowledgedSequence(position.chain().lastSequence()).build();
    }

    /**
     * Waits (up to {@link #RELAY_RECORD_WAIT}) until every job of the batch has its relay record in
     * the ledger. A node's receipts may reach any gateway it has a session with, while the stream was
     * relayed by another, which records its end a moment later: a completed stream is then charged
     * what it showed, not capped at a relay not yet recorded. Past the bound (the relaying gateway
     * died mid-stream) the receipt is booked against what is recorded.
     */
    private void awaitRelayRecords(Node node, ReceiptBatch batch) {
        List<String> jobIds = batch.getReceiptsList().stream().map(UsageReceipt::getJobId).toList();
        long deadline = System.nanoTime() + RELAY_RECORD_WAIT.toNanos();
        long unrelayed;
        while ((unrelayed = jobs.unrelayed(jobIds)) > 0) {
            if (System.nanoTime() > deadline) {
                LOG.warning("node " + node.nodeId() + ": booking " + unrelayed + " receipts whose relay was never recorded "
                        + "(charged at most for prompt and compute)");
                return;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Books one verified batch — its receipts and the node's new chain position — in one transaction. */
    private void book(ReceiptChains.Position position, ReceiptBatch batch, ReportUsageResponse.Builder response) {
        Node node = position.node();
        awaitRelayRecords(node, batch);
        List<Outcome> outcomes = tx.run(sql -> {
            List<Outcome> out = new ArrayList<>();
            for (UsageReceipt receipt : batch.getReceiptsList()) {
                out.add(book(sql, node, receipt));
            }
            chains.acknowledge(sql, position);
            return out;
        });
        nodes.invalidate();
        for (Outcome o : outcomes) {
            if (o.metric().equals("booked")) {
                metrics.receiptBooked(o.chargedMicroUsd());
            } else {
                metrics.receiptRejected(o.metric());
            }
            if (o.flag() != null) {
                LOG.warning("flagged node " + node.nodeId() + ": " + o.flag());
            }
            if (o.rejection() != null) {
                response.addRejections(ReceiptRejection.newBuilder().setJobId(o.jobId()).setReason(o.rejection()));
            }
        }
    }

    /**
     * Whether a refused batch is evidence against its node: only when the node's key verifiably signed
     * what is wrong (a payload that does not parse, a chain it broke). A bad signature, a foreign key or
     * a gap proves nothing about the node, so it is refused without touching the node.
     */
    static boolean signedEvidence(VerificationException.Reason reason) {
        return reason == VerificationException.Reason.MALFORMED || reason == VerificationException.Reason.CHAIN_BROKEN;
    }

    /** Books one receipt inside the batch's transaction, the job's row locked. */
    private Outcome book(Sql sql, Node node, UsageReceipt r) throws SQLException {
        Jobs.Job job = Jobs.lock(sql, r.getJobId()).filter(j -> j.nodeId().equals(node.nodeId())).orElse(null);
        if (job == null) {
            String why = "no ticket for job " + r.getJobId() + " was issued to this node";
            NodeDirectory.flag(sql, node.nodeId(), why);
            return new Outcome(r.getJobId(), "unknown_ticket", why, why);
        }
        switch (job.state()) {
            case BOOKED, SETTLED_RELAYED:
                return new Outcome(job.jobId(), "duplicate", null, null); // booked once already; nothing more to do
            case ABANDONED:
                return new Outcome(job.jobId(), "abandoned", "job failed before its first token and was retried elsewhere; not charged",
                        null);
            case DISPATCHED:
                break;
        }
        Pricing price = Prices.findOrFree(sql, job.model());
        String implausible = implausibility(job, r);
        if (implausible != null) {
            NodeDirectory.flag(sql, node.nodeId(), implausible);
            settleAtRelayed(sql, job, price, "implausible receipt");
            return new Outcome(job.jobId(), "implausible", implausible, implausible);
        }
        long cost = price.chargeMicroUsd(r.getPromptTokens(), r.getCompletionTokens(), r.getGpuMicros());
        if (!job.streamComplete()) {
            // The stream broke or was cancelled: charge no more than what was delivered.
            cost = Math.min(cost, price.chargeMicroUsd(r.getPromptTokens(), job.relayedCompletion(), r.getGpuMicros()));
        }
        io.diem.gateway.ledger.LedgerViews.Charge charge;
        try {
            charge = credit.post(sql, job.reservationId(), new UsageRecord(job.jobId(), null, null, job.model(), node.nodeId(),
                    r.getPromptTokens(), r.getCompletionTokens(), r.getGpuMicros(), kind(r.getComputeKind()), cost,
                    r.getFinishReason().name().replace("FINISH_REASON_", "").toLowerCase(Locale.ROOT), null), true);
        } catch (GatewayException e) {
            // The reservation is gone (expired or settled another way): nothing left to charge against.
            Jobs.transition(sql, job.jobId(), State.DISPATCHED, State.SETTLED_RELAYED);
            return new Outcome(job.jobId(), "reservation_closed", "not charged: " + e.getMessage(), null);
        }
        Jobs.transition(sql, job.jobId(), State.DISPATCHED, State.BOOKED);
        return new Outcome(job.jobId(), "booked", null, null, charge.alreadyPosted() ? 0 : charge.charged());
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

    /** Charges a job at what the gateway relayed (no trustworthy receipt); the node is not paid. */
    private void settleAtRelayed(Sql sql, Jobs.Job job, Pricing price, String why) throws SQLException {
        long cost = price.chargeMicroUsd(job.relayedPrompt(), job.relayedCompletion(), 0);
        io.diem.gateway.ledger.LedgerViews.Charge charge;
        try {
            charge = credit.post(sql, job.reservationId(), new UsageRecord(job.jobId(), null, null, job.model(), job.nodeId(),
                    job.relayedPrompt(), job.relayedCompletion(), 0, "relayed", cost, why, null), false);
        } catch (GatewayException e) {
            LOG.warning("job " + job.jobId() + ": could not settle at relayed (" + e.getMessage() + ")");
        }
        Jobs.transition(sql, job.jobId(), State.DISPATCHED, State.SETTLED_RELAYED);
    }

    /**
     * Jobs whose stream ended more than {@code receiptTtl} ago with no receipt: each is charged at what
     * was relayed (the node is not paid), in one transaction that re-checks the job under its lock (a
     * receipt booked meanwhile wins). A node that was up counts a miss on its reliability record
     * ({@link NodeDirectory#missedReceipt}: suspended past a threshold, back by itself); a node that is
     * down counts none (a crash; its interrupted receipts follow when it restarts).
     */
    public int settleOverdue(Duration receiptTtl) {
        int settled = 0;
        for (Jobs.Job due : jobs.awaitingReceipt(ledger.now() - receiptTtl.toNanos() / 1000)) {
            boolean up = nodes.node(due.nodeId()).map(nodes::live).orElse(false);
            long now = ledger.now();
            Boolean suspended = tx.run(sql -> {
                Jobs.Job job = Jobs.lock(sql, due.jobId()).orElse(null);
                if (job == null || job.state() != State.DISPATCHED) {
                    return null;
                }
                settleAtRelayed(sql, job, Prices.findOrFree(sql, job.model()), "no receipt within " + receiptTtl.toSeconds() + " s");
                return up && NodeDirectory.missedReceipt(sql, job.nodeId(), job.jobId(), now);
            });
            if (suspended != null) {
                nodes.invalidate();
                metrics.receiptRejected(up ? "missed" : "missed_while_down");
                if (suspended) {
                    LOG.warning("suspended node " + due.nodeId() + " for 15 min: " + NodeDirectory.MISSES_BEFORE_SUSPENSION
                            + " or more receipts missing in the last hour while it was up");
                }
                settled++;
            }
        }
        return settled;
    }

    private static String kind(ComputeKind k) {
        return k == ComputeKind.COMPUTE_KIND_GPU ? "gpu" : "cpu";
    }
}
