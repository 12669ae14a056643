package io.diem.agent.journal;

import io.diem.v1.FinishReason;
import io.diem.v1.JournaledJob;
import io.diem.v1.UsageReceipt;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The jobs running on this node, journaled so that a crash turns each into an interrupted receipt
 * instead of a missing one: a job's start is made durable before it runs, its progress (compute
 * metered and tokens streamed so far) at least once a second, and its end once its receipt is in the
 * usage journal. On open, every job that started and never ended becomes a receipt with finish reason
 * INTERRUPTED and the last progress it recorded; the log then starts empty.
 */
public final class JobLog implements AutoCloseable {

    private final RecordLog log;
    private final List<UsageReceipt> interrupted;

    private JobLog(RecordLog log, List<UsageReceipt> interrupted) {
        this.log = log;
        this.interrupted = interrupted;
    }

    /** Opens {@code dir/jobs.log} and collects the jobs a previous run left unfinished. */
    /** Reports each fsync of the job log (ns) to {@code listener}. */
    public void onFsync(java.util.function.LongConsumer listener) {
        log.fsyncNanos = listener;
    }

    public static JobLog open(Path dir) throws IOException {
        List<byte[]> records = new ArrayList<>();
        RecordLog log = RecordLog.open(dir.resolve("jobs.log"), records);
        Map<String, UsageReceipt> open = new LinkedHashMap<>();
        for (byte[] r : records) {
            JournaledJob job = JournaledJob.parseFrom(r);
            if (job.getFinished()) {
                open.remove(job.getProgress().getJobId());
            } else {
                open.put(job.getProgress().getJobId(), job.getProgress());
            }
        }
        List<UsageReceipt> interrupted = new ArrayList<>();
        for (UsageReceipt last : open.values()) {
            interrupted.add(last.toBuilder().setFinishReason(FinishReason.FINISH_REASON_INTERRUPTED).build());
        }
        return new JobLog(log, interrupted);
    }

    /** The receipts of the jobs a previous run left unfinished (append them to the usage journal, then {@link #clear}). */
    public List<UsageReceipt> interrupted() {
        return interrupted;
    }

    /** Empties the log once the interrupted receipts are durable elsewhere. */
    public void clear() throws IOException {
        log.replaceWith(List.of());
        interrupted.clear();
    }

    /** A job started: durable before it runs. */
    public void started(UsageReceipt progress) throws IOException {
        log.appendDurably(JournaledJob.newBuilder().setProgress(progress).build().toByteArray());
    }

    /** Progress of running jobs, made durable with one fsync. */
    public void progress(List<UsageReceipt> snapshots) throws IOException {
        long position = -1;
        for (UsageReceipt p : snapshots) {
            position = log.append(JournaledJob.newBuilder().setProgress(p).build().toByteArray());
        }
        if (position >= 0) {
            log.sync(position);
        }
    }

    /** A job ended and its receipt is in the usage journal (not synced: on a crash the job would be reported twice, and booked once). */
    public void finished(String jobId) throws IOException {
        log.append(JournaledJob.newBuilder().setProgress(UsageReceipt.newBuilder().setJobId(jobId)).setFinished(true).build()
                .toByteArray());
    }

    /** Compacts the log to the jobs still running (called now and then, so it does not grow without bound). */
    public void compact(List<UsageReceipt> running) throws IOException {
        List<byte[]> keep = new ArrayList<>();
        for (UsageReceipt p : running) {
            keep.add(JournaledJob.newBuilder().setProgress(p).build().toByteArray());
        }
        log.replaceWith(keep);
    }

    @Override
    public void close() throws IOException {
        log.close();
    }
}
