package io.diem.agent.serve;

import io.diem.agent.engine.FinishReason;
import io.diem.agent.engine.Generation;
import io.diem.agent.engine.GenerationResult;
import io.diem.agent.engine.InferenceEngine;
import io.diem.agent.engine.Sequence;
import io.diem.agent.model.ModelConfig;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Runs the jobs of one device (a GPU, or the CPU engine) as one continuous batch. Each step the
 * worker appends one token to every decoding job and fills what is left of the step's token budget
 * with prompt chunks of jobs still prefilling, in order of arrival, and runs them all in one pass of
 * the engine ({@link InferenceEngine#stepAll}); new jobs join between steps and finished or cancelled
 * ones leave at once. The step's metered device time is split among its jobs in proportion to the
 * tokens each appended ({@link #split}), in whole microseconds, so the jobs' metered time adds up to
 * the device's busy time exactly.
 *
 * <p>KV memory is a pool of blocks ({@link Limits#kvBytes}): a job joins only when the pool can hold
 * its worst case (prompt + completion limit), waiting at the head of the queue otherwise; one whose
 * worst case exceeds the whole pool is refused at once with RESOURCE_EXHAUSTED and the numbers. A full
 * queue also refuses at once. {@link #drain} stops admissions, lets jobs finish within a bound, then
 * cancels the rest.
 */
public final class JobScheduler implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(JobScheduler.class.getName());

    /**
     * @param maxBatch most jobs running at once on the device
     * @param maxStepTokens most tokens one step appends over all its jobs (decode tokens first, then prompt chunks)
     * @param kvBytes the device's KV memory, in bytes
     */
    public record Limits(int maxBatch, int maxStepTokens, long kvBytes) {

        public Limits {
            if (maxBatch < 1 || maxStepTokens < maxBatch || kvBytes < 1) {
                throw new IllegalArgumentException("scheduler limits need max batch >= 1, max step tokens >= max batch and "
                        + "KV memory > 0; got " + maxBatch + ", " + maxStepTokens + ", " + kvBytes);
            }
        }

        /** 32 jobs, 512 tokens a step, the engine's default KV memory. */
        public static Limits defaults(InferenceEngine engine) {
            return new Limits(32, 512, engine.kvMemoryBytes());
        }
    }

    /** Told when a job starts running on this device (the node journals it, so a crash leaves an interrupted receipt). */
    public interface JobTracker {
        JobTracker NONE = job -> {};

        void started(Job job);
    }

    /** A job running on the device. */
    private static final class Active {
        final Job job;
        final Sequence sequence;
        final Generation generation;
        final int blocks;

        Active(Job job, Sequence sequence, Generation generation, int blocks) {
            this.job = job;
            this.sequence = sequence;
            this.generation = generation;
            this.blocks = blocks;
        }
    }

    private final String device;
    private final InferenceEngine engine;
    private final Limits limits;
    private final BlockingQueue<Job> queue;
    private final Map<String, Job> live = new ConcurrentHashMap<>();
    private final AtomicBoolean accepting = new AtomicBoolean(true);
    private final Object arrivals = new Object();
    private final Thread worker;
    /** Worker thread only. */
    private final List<Active> active = new ArrayList<>();
    private volatile int running;
    private volatile long busyNanos;
    /** Metered nanoseconds not yet a whole microsecond, carried to the next step. */
    private long carryNanos;
    private volatile long kvCacheBytes;
    /** Bytes of one KV block: {@link InferenceEngine#kvBlockTokens} positions of the largest model seen. */
    private volatile long blockBytes;
    private volatile int reservedBlocks;
    private volatile int usedBlocks;
    private final JobTracker tracker;

    public JobScheduler(String device, InferenceEngine engine, int queueCapacity) {
        this(device, engine, queueCapacity, JobTracker.NONE, Limits.defaults(engine), List.of());
    }

    /** @param models the models the node serves (the KV block is sized for the largest) */
    public JobScheduler(String device, InferenceEngine engine, int queueCapacity, JobTracker tracker, Limits limits,
            List<ModelConfig> models) {
        this.device = device;
        this.engine = engine;
        this.tracker = tracker;
        this.limits = limits;
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        for (ModelConfig c : models) {
            blockBytes = Math.max(blockBytes, bytesPerPosition(c) * engine.kvBlockTokens());
        }
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

    public Limits limits() {
        return limits;
    }

    /** KV bytes one position of {@code c} takes: keys and values of every layer, float32. */
    static long bytesPerPosition(ModelConfig c) {
        return 2L * c.layers * c.kvDim * Float.BYTES;
    }

    /** The positions a job may fill: its prompt plus its completion limit, within the model's context. */
    static int capacityOf(Job job) {
        return Math.min(job.model.config().contextLength, job.request.promptTokens().size()
                + Math.min(job.request.sampling().maxTokens(), job.request.tokenLimit() > 0 ? job.request.tokenLimit() : Integer.MAX_VALUE));
    }

    /** KV blocks of the pool a job's worst case takes. */
    private int blocksFor(Job job) {
        if (blockBytes == 0) {
            blockBytes = bytesPerPosition(job.model.config()) * engine.kvBlockTokens();
        }
        long bytes = bytesPerPosition(job.model.config()) * (long) capacityOf(job);
        return (int) Math.min(Integer.MAX_VALUE, (bytes + blockBytes - 1) / blockBytes);
    }

    /** Blocks in the KV pool (0 until the block size is known: no job and no model yet). */
    public long kvBlocksTotal() {
        return blockBytes == 0 ? 0 : limits.kvBytes() / blockBytes;
    }

    /** Blocks the running jobs' KV caches hold now. */
    public long kvBlocksUsed() {
        return usedBlocks;
    }

    /** Queues a job, or throws RESOURCE_EXHAUSTED (queue full, or its worst case exceeds the KV pool) or UNAVAILABLE (draining). */
    public void submit(Job job) {
        if (!accepting.get()) {
            throw Status.UNAVAILABLE.withDescription("node is draining and takes no new jobs").asRuntimeException();
        }
        int need = blocksFor(job);
        long total = kvBlocksTotal();
        if (need > total) {
            throw Status.RESOURCE_EXHAUSTED.withDescription("this job may need " + capacityOf(job) + " positions of KV cache ("
                    + need + " blocks of " + blockBytes + " bytes); the KV pool of " + device + " holds " + total
                    + " blocks in all: lower max_tokens or the prompt").asRuntimeException();
        }
        live.put(job.id(), job);
        if (!queue.offer(job)) {
            live.remove(job.id());
            throw Status.RESOURCE_EXHAUSTED.withDescription("the queue of " + device + " is full (" + queue.size()
                    + " jobs waiting); retry later or on another node").asRuntimeException();
        }
        synchronized (arrivals) {
            arrivals.notifyAll();
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

    /** Jobs running (in the batch) now. */
    public int running() {
        return running;
    }

    public int capacity() {
        return queue.remainingCapacity() + queue.size() + limits.maxBatch();
    }

    /** Bytes held by the KV caches of the jobs running on this device now. */
    public long kvCacheBytes() {
        return kvCacheBytes;
    }

    /** Compute time of all jobs run here so far (the device's busy time by its own meter, whole µs), ns. */
    public long busyNanos() {
        return busyNanos;
    }

    private void work() {
        while (true) {
            admit();
            if (active.isEmpty()) {
                if (!accepting.get() && queue.isEmpty()) {
                    return;
                }
                synchronized (arrivals) {
                    if (queue.isEmpty()) {
                        try {
                            arrivals.wait(100);
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }
                continue;
            }
            step();
        }
    }

    /** Moves jobs from the queue into the batch while there is room in it and in the KV pool (in order: no overtaking). */
    private void admit() {
        while (active.size() < limits.maxBatch()) {
            Job job = queue.peek();
            if (job == null) {
                return;
            }
            int need = blocksFor(job);
            if (reservedBlocks + need > kvBlocksTotal() && !active.isEmpty()) {
                return; // waits for running jobs to free blocks
            }
            queue.poll();
            job.ranOn = this;
            if (job.isCancelled()) {
                finish(job, new GenerationResult(job.request.promptTokens().size(), List.of(), "", FinishReason.CANCELLED,
                        0, 0, 0, 0), null);
                continue;
            }
            Sequence sequence = null;
            try {
                sequence = engine.newSequence(job.model, capacityOf(job));
                Generation generation = new Generation(sequence, job.model.tokenizer(), job.request, job.sink, job.cancellation);
                tracker.started(job);
                active.add(new Active(job, sequence, generation, need));
                reservedBlocks += need;
                running = active.size();
                if (generation.done()) {
                    complete(active.get(active.size() - 1));
                }
            } catch (RuntimeException | Error e) {
                if (sequence != null) {
                    sequence.close();
                }
                LOG.log(Level.WARNING, "job " + job.id() + " could not start on " + device, e);
                finish(job, null, e);
            }
        }
    }

    /** One step of the batch: a token for every decoding job, then prompt chunks within the budget. */
    private void step() {
        List<Active> batch = new ArrayList<>();
        List<int[]> inputs = new ArrayList<>();
        int budget = limits.maxStepTokens();
        for (Active a : List.copyOf(active)) {
            if (!a.generation.prefilling()) {
                budget -= take(a, 1, batch, inputs);
            }
        }
        for (Active a : List.copyOf(active)) {
            if (a.generation.prefilling() && budget > 0 && active.contains(a)) {
                budget -= take(a, budget, batch, inputs);
            }
        }
        if (batch.isEmpty()) {
            return;
        }
        List<Sequence> sequences = batch.stream().map(a -> a.sequence).toList();
        InferenceEngine.BatchStep result;
        try {
            result = engine.stepAll(sequences, inputs);
        } catch (RuntimeException | Error e) {
            LOG.log(Level.WARNING, "a step of " + batch.size() + " jobs failed on " + device, e);
            for (Active a : batch) {
                active.remove(a);
                release(a);
                finish(a.job, null, e);
            }
            running = active.size();
            return;
        }
        long nanos = carryNanos + Math.max(0, result.computeNanos());
        long micros = nanos / 1000;
        carryNanos = nanos % 1000;
        busyNanos += micros * 1000;
        int[] tokens = inputs.stream().mapToInt(t -> t.length).toArray();
        long[] shares = split(micros, tokens);
        for (int i = 0; i < batch.size(); i++) {
            Active a = batch.get(i);
            long share = shares[i] * 1000;
            a.job.addCompute(share);
            a.generation.accept(result.logits()[i], share);
            if (a.generation.done()) {
                complete(a);
            }
        }
        recountKv();
    }

    /** What the running jobs' KV caches hold now, for the metrics. */
    private void recountKv() {
        long kv = 0;
        int used = 0;
        for (Active a : active) {
            kv += a.sequence.kvCacheBytes();
            used += (int) ((a.sequence.kvCacheBytes() + blockBytes - 1) / blockBytes);
        }
        kvCacheBytes = kv;
        usedBlocks = used;
    }

    /** Adds a's next input (at most {@code budget} tokens) to the step; returns how many tokens it takes (0 when it ended instead). */
    private int take(Active a, int budget, List<Active> batch, List<int[]> inputs) {
        int[] input = a.generation.nextInput(budget);
        if (input == null) {
            complete(a); // cancelled
            return 0;
        }
        batch.add(a);
        inputs.add(input);
        return input.length;
    }

    private void complete(Active a) {
        active.remove(a);
        running = active.size();
        release(a);
        finish(a.job, a.generation.result(), null);
    }

    private void release(Active a) {
        a.sequence.close();
        reservedBlocks -= a.blocks;
        recountKv(); // before the job's end is reported
    }

    /**
     * Splits {@code micros} among the step's jobs in proportion to {@code tokens}, in whole
     * microseconds that add up to {@code micros} exactly: each gets the floor of its share, and the
     * microseconds left go one each to the largest remainders, ties to the earlier job.
     */
    static long[] split(long micros, int[] tokens) {
        long total = 0;
        for (int t : tokens) {
            total += t;
        }
        long[] shares = new long[tokens.length];
        if (total == 0) {
            return shares;
        }
        long given = 0;
        long[] remainders = new long[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            long exact = micros * tokens[i]; // micros of a step and tokens of a step: far below overflow
            shares[i] = exact / total;
            remainders[i] = exact % total;
            given += shares[i];
        }
        for (long left = micros - given; left > 0; left--) {
            int best = 0;
            for (int i = 1; i < tokens.length; i++) {
                if (remainders[i] > remainders[best]) {
                    best = i;
                }
            }
            shares[best]++;
            remainders[best] = -1;
        }
        return shares;
    }

    private void finish(Job job, GenerationResult result, Throwable failure) {
        live.remove(job.id());
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
        while ((running > 0 || !queue.isEmpty()) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        boolean clean = running == 0 && queue.isEmpty();
        if (!clean) {
            live.values().forEach(Job::cancel);
        }
        synchronized (arrivals) {
            arrivals.notifyAll();
        }
        worker.join(10_000);
        return clean;
    }

    @Override
    public void close() throws InterruptedException {
        drain(Duration.ZERO);
    }
}
