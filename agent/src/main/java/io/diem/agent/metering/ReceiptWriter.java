package io.diem.agent.metering;

import io.diem.agent.journal.UsageJournal;
import io.diem.common.UnixMicros;
import io.diem.v1.ComputeKind;
import io.diem.v1.FinishReason;
import io.diem.v1.JobTicket;
import io.diem.v1.UsageReceipt;
import java.io.IOException;
import java.time.Clock;

/**
 * Turns what a job used into its usage receipt and makes it durable in the journal (fsync'd) before
 * anyone is told the job is done. A job's compute is the metered time of the engine steps it ran,
 * rounded up to whole microseconds, on the clock the engine meters (GPU event time or CPU time).
 */
public final class ReceiptWriter {

    /**
     * What one job used.
     *
     * @param computeNanos metered compute time of the job's steps
     * @param devices devices the job ran on at once (the engine's parallelism)
     */
    public record JobUsage(FinishReason finishReason, int promptTokens, int completionTokens, long computeNanos,
            ComputeKind computeKind, int devices) {

        /** Compute in whole microseconds, rounded up, as receipts carry it. */
        public long computeMicros() {
            return (computeNanos + 999) / 1000;
        }
    }

    /** A receipt now durable in the journal, with its sequence there. */
    public record Written(UsageReceipt receipt, long sequence) {}

    private final String nodeId;
    private final UsageJournal journal;
    private final Clock clock;

    public ReceiptWriter(String nodeId, UsageJournal journal, Clock clock) {
        this.nodeId = nodeId;
        this.journal = journal;
        this.clock = clock;
    }

    /** Appends the receipt of the job run under {@code ticket}, admitted at {@code startedAtUnixMicros}. */
    public Written write(JobTicket ticket, JobUsage usage, long startedAtUnixMicros) throws IOException {
        UsageReceipt receipt = receipt(ticket, usage, startedAtUnixMicros);
        return new Written(receipt, journal.append(receipt));
    }

    /** Runs {@code step} with sealing held off ({@link UsageJournal#holdingSeals}): write the receipt and report the job inside it. */
    public <E extends Exception> void holdingSeals(UsageJournal.Step<E> step) throws E {
        journal.holdingSeals(step);
    }

    /** The receipt of the job run under {@code ticket} as of now (not journaled). */
    public UsageReceipt receipt(JobTicket ticket, JobUsage usage, long startedAtUnixMicros) {
        long finishedAt = UnixMicros.now(clock);
        return UsageReceipt.newBuilder()
                .setJobId(ticket.getJobId())
                .setNodeId(nodeId)
                .setAccountRef(ticket.getAccountRef())
                .setModel(ticket.getModel())
                .setFinishReason(usage.finishReason())
                .setPromptTokens(usage.promptTokens())
                .setCompletionTokens(usage.completionTokens())
                .setGpuMicros(usage.computeMicros()) // the wire's name; CPU time on the CPU engine (compute_kind says which)
                .setComputeKind(usage.computeKind())
                .setGpusUsed(usage.devices())
                .setStartedAtUnixMicros(startedAtUnixMicros)
                .setFinishedAtUnixMicros(Math.max(finishedAt, startedAtUnixMicros))
                .build();
    }
}
