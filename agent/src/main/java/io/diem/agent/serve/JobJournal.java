package io.diem.agent.serve;

import io.diem.agent.journal.JobLog;
import io.diem.agent.metering.ReceiptWriter;
import io.diem.agent.metering.ReceiptWriter.JobUsage;
import io.diem.v1.UsageReceipt;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Keeps the {@link JobLog} in step with the jobs running: a job's start is journaled (durably) before
 * its first step, its progress every {@link #tick}, its end once its receipt is durable. Every change
 * holds this object's lock, so a compaction never drops a job that started meanwhile.
 */
final class JobJournal implements JobScheduler.JobTracker {

    private static final Logger LOG = Logger.getLogger(JobJournal.class.getName());
    /** Ticks (seconds) between compactions of the job log. */
    private static final int COMPACT_EVERY = 60;

    private final JobLog log;
    private final ReceiptWriter receipts;
    private final Map<String, Job> running = new LinkedHashMap<>();
    private int ticks;

    JobJournal(JobLog log, ReceiptWriter receipts) {
        this.log = log;
        this.receipts = receipts;
    }

    @Override
    public synchronized void started(Job job) {
        running.put(job.id(), job);
        try {
            log.started(snapshot(job));
        } catch (IOException e) {
            LOG.log(Level.WARNING, "could not journal the start of job " + job.id() + "; a crash now would leave no receipt", e);
        }
    }

    /** The job's receipt is durable: it no longer needs an interrupted one. */
    synchronized void finished(Job job) {
        if (running.remove(job.id()) != null) {
            try {
                log.finished(job.id());
            } catch (IOException e) {
                LOG.log(Level.WARNING, "could not journal the end of job " + job.id() + " (a restart would report it twice; booked once)", e);
            }
        }
    }

    /** Journals every running job's progress (one fsync); compacts the log now and then. */
    synchronized void tick() {
        try {
            List<UsageReceipt> snapshots = new ArrayList<>();
            for (Job job : running.values()) {
                snapshots.add(snapshot(job));
            }
            if (++ticks % COMPACT_EVERY == 0) {
                log.compact(snapshots);
            } else {
                log.progress(snapshots);
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "could not journal the progress of running jobs", e);
        }
    }

    /** What the job's receipt would say if the node stopped now. */
    private UsageReceipt snapshot(Job job) {
        JobScheduler device = job.ranOn;
        return receipts.receipt(job.ticket, new JobUsage(io.diem.v1.FinishReason.FINISH_REASON_INTERRUPTED,
                job.request.promptTokens().size(), job.streamed(), job.computeNanos(), device.engine().computeKind(),
                device.engine().parallelism()), job.admittedAtUnixMicros);
    }
}
