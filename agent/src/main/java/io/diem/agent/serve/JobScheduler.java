package io.diem.agent.serve;

import io.diem.agent.engine.FinishReason;
import io.diem.agent.engine.GenerationResult;
import io.diem.agent.engine.Generator;
import io.diem.agent.engine.InferenceEngine;
import io.diem.agent.engine.MeteredSequence;
import io.diem.agent.engine.Sequence;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Runs the jobs of one device (a GPU, or the CPU engine) one at a time from a bounded queue. A full
 * queue refuses at once with RESOURCE_EXHAUSTED rather than making callers wait unboundedly. A
 * cancelled job stops at its next step and still finishes (with what it used). {@link #drain} stops
 * admissions, lets queued and running jobs finish within a bound, then cancels the rest.
 */
public final class JobScheduler implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(JobScheduler.class.getName());

    private final String device;
    private final InferenceEngine engine;
    private final BlockingQueue<Job> queue;
    private final Map<String, Job> live = new ConcurrentHashMap<>();
    private final AtomicBoolean accepting = new AtomicBoolean(true);
    private final Thread worker;
    private volatile Job running;
    private volatile long busyNanos;
    private final java.util.concurrent.atomic.AtomicLong kvCacheBytes = new java.util.concurrent.atomic.AtomicLong();
    private final JobTracker tracker;

    /** Told when a job starts running on this device (the node journals it, so a crash leaves an interrupted receipt). */
    public interface JobTracker {
        JobTracker NONE = job -> {};

        void started(Job job);
    }

    public JobScheduler(String device, InferenceEngine engine, int queueCapacity) {
        this(device, engine, queueCapacity, JobTracker.NONE);
    }

    public JobScheduler(String device, InferenceEngine engine, int queueCapacity, JobTracker tracker) {
        this.device = device;
        this.engine = engine;
        this.tracker = tracker;
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.worker = new Thread(this::work, "scheduler-" + device);
        this.worker.setDaemon(true);
        this.worker.start();
    }

    public String device() {
        return device;
    }

    public InferenceEngine engine() {
        return engine;
    }

    /** Queues a job, or throws RESOURCE_EXHAUSTED (queue full) or UNAVAILABLE (draining). */
    public void submit(Job job) {
        if (!accepting.get()) {
            throw Status.UNAVAILABLE.withDescription("node is draining and takes no new jobs").asRuntimeException();
        }
        live.put(job.id(), job);
        if (!queue.offer(job)) {
            live.remove(job.id());
            throw Status.RESOURCE_EXHAUSTED.withDescription("the queue of " + device + " is full (" + queue.size()
                    + " jobs waiting); retry later or on another node").asRuntimeException();
        }
    }

    /** Cancels a queued or running job; false when no such job is live here. */
    public boolean cancel(String jobId) {
        Job job = live.get(jobId);
        if (job == null) {
            return false;
        }
        job.cancel();
        return true;
    }

    public int queued() {
        return queue.size();
    }

    public int running() {
        return running == null ? 0 : 1;
    }

    public int capacity() {
        return queue.remainingCapacity() + queue.size() + 1;
    }

    /** Compute time of all jobs run here so far (the device's busy time by its own meter), ns. */
    /** Bytes held by the KV caches of the jobs running on this device now. */
    public long kvCacheBytes() {
        return kvCacheBytes.get();
    }

    public long busyNanos() {
        return busyNanos;
    }

    private void work() {
        while (true) {
            Job job;
            try {
                job = queue.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (job == null) {
                if (!accepting.get() && queue.isEmpty()) {
                    return;
                }
                continue;
            }
            running = job;
            job.ranOn = this;
            try {
                run(job);
            } finally {
                running = null;
                live.remove(job.id());
            }
        }
    }

    private void run(Job job) {
        if (job.isCancelled()) {
            finish(job, new GenerationResult(job.request.promptTokens().size(), List.of(), "", FinishReason.CANCELLED,
                    0, 0, 0, 0), null);
            return;
        }
        GenerationResult result;
        int capacity = Math.min(job.model.config().contextLength,
                job.request.promptTokens().size() + Math.min(job.request.sampling().maxTokens(),
                        job.request.tokenLimit() > 0 ? job.request.tokenLimit() : Integer.MAX_VALUE));
        long kv = 0;
        try (Sequence sequence = engine.newSequence(job.model, capacity)) {
            kv = sequence.kvCacheBytes();
            kvCacheBytes.addAndGet(kv);
            tracker.started(job);
            result = Generator.generate(new MeteredSequence(sequence, job::addCompute), job.model.tokenizer(), job.request, job.sink,
                    job.cancellation);
        } catch (RuntimeException | Error e) {
            LOG.log(Level.WARNING, "job " + job.id() + " failed on " + device, e);
            finish(job, null, e);
            return;
        } finally {
            kvCacheBytes.addAndGet(-kv);
        }
        busyNanos += result.computeNanos();
        finish(job, result, null);
    }

    private static void finish(Job job, GenerationResult result, Throwable failure) {
        try {
            job.onFinish.accept(result, failure);
        } catch (RuntimeException e) {
            LOG.log(Level.SEVERE, "finishing job " + job.id() + " failed", e);
        }
    }

    /**
     * Stops admissions and waits up to {@code bound} for queued and running jobs to finish; cancels
     * whatever is left and waits for those to wind down. Returns true if nothing had to be cancelled.
     */
    public boolean drain(Duration bound) throws InterruptedException {
        accepting.set(false);
        long deadline = System.nanoTime() + bound.toNanos();
        while ((running != null || !queue.isEmpty()) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        boolean clean = running == null && queue.isEmpty();
        if (!clean) {
            live.values().forEach(Job::cancel);
        }
        worker.join(10_000);
        return clean;
    }

    @Override
    public void close() throws InterruptedException {
        drain(Duration.ZERO);
    }
}
