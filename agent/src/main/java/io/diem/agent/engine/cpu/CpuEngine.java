package io.diem.agent.engine.cpu;

import io.diem.agent.engine.InferenceEngine;
import io.diem.agent.engine.Sequence;
import io.diem.agent.model.Model;
import io.diem.agent.model.ModelConfig;
import io.diem.agent.model.Tensor;
import io.diem.v1.ComputeKind;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The plain-Java reference engine. Matrix-vector products are split by rows over the calling thread
 * and a {@link WorkerTeam} of {@code threads - 1} workers; the meter is the calling thread's CPU time plus the workers' task time in
 * a step (never their idle spinning), so it reports CPU-seconds of work, not wall time.
 */
public final class CpuEngine implements InferenceEngine {

    /** Positions per KV block. */
    static final int KV_BLOCK_TOKENS = 16;

    private final int threads;
    private final CpuKernels kernels;
    private final WorkerTeam team;
    private final ThreadMXBean cpuClock = ManagementFactory.getThreadMXBean();
    private final boolean cpuTimeSupported;

    public CpuEngine(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.kernels = CpuKernels.best();
        this.cpuTimeSupported = cpuClock.isCurrentThreadCpuTimeSupported() && cpuClock.isThreadCpuTimeSupported();
        if (cpuTimeSupported && !cpuClock.isThreadCpuTimeEnabled()) {
            cpuClock.setThreadCpuTimeEnabled(true);
        }
        this.team = new WorkerTeam(threads - 1, "cpu-engine");
        this.scores = new float[threads][];
    }

    public int threads() {
        return threads;
    }

    CpuKernels kernels() {
        return kernels;
    }

    /** How rows are multiplied: "vector(16 lanes)" or "scalar". */
    public String kernel() {
        return kernels.describe();
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String device() {
        return "cpu";
    }

    @Override
    public int parallelism() {
        return threads;
    }

    @Override
    public ComputeKind computeKind() {
        return ComputeKind.COMPUTE_KIND_CPU;
    }

    @Override
    public Sequence newSequence(Model model, int capacity) {
        return new CpuSequence(this, model, capacity);
    }

    @Override
    public int kvBlockTokens() {
        return KV_BLOCK_TOKENS;
    }

    /**
     * One step over CPU sequences: those of one model run as one batch ({@link CpuBatch}), each
     * sequence's logits exactly those it would get alone. The compute is the step's CPU time.
     */
    @Override
    public BatchStep stepAll(List<Sequence> sequences, List<int[]> tokens) {
        long before = cpuNanos();
        Map<Model, List<Integer>> byModel = new LinkedHashMap<>();
        for (int i = 0; i < sequences.size(); i++) {
            CpuSequence s = (CpuSequence) sequences.get(i);
            Sequence.checkStep(tokens.get(i), s.position, s.capacity(), s.c.vocabSize);
            byModel.computeIfAbsent(s.model, m -> new ArrayList<>()).add(i);
        }
        for (List<Integer> group : byModel.values()) {
            List<CpuSequence> seqs = new ArrayList<>();
            List<int[]> toks = new ArrayList<>();
            for (int i : group) {
                seqs.add((CpuSequence) sequences.get(i));
                toks.add(tokens.get(i));
            }
            CpuBatch.forward(this, seqs, toks);
        }
        float[][] logits = new float[sequences.size()][];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = ((CpuSequence) sequences.get(i)).logits;
        }
        return new BatchStep(logits, Math.max(0, cpuNanos() - before));
    }

    /** Bytes of one KV block of a model: keys and values of {@link #KV_BLOCK_TOKENS} positions in every layer. */
    long kvBlockBytes(ModelConfig c) {
        return 2L * c.layers * KV_BLOCK_TOKENS * c.kvDim * Float.BYTES;
    }

    /** KV blocks (of any model) held by this engine's sequences now, counted per layer pair as one block of the sequence. */
    public long kvBlocksInUse() {
        return kvArraysInUse.get();
    }

    private final java.util.concurrent.atomic.AtomicLong kvArraysInUse = new java.util.concurrent.atomic.AtomicLong();
    /** Freed KV arrays by length, reused before new ones are made. */
    private final Map<Integer, java.util.ArrayDeque<float[]>> freeKv = new java.util.concurrent.ConcurrentHashMap<>();

    float[] takeKvBlock(int kvDim) {
        int length = KV_BLOCK_TOKENS * kvDim;
        java.util.ArrayDeque<float[]> free = freeKv.computeIfAbsent(length, n -> new java.util.ArrayDeque<>());
        float[] block;
        synchronized (free) {
            block = free.poll();
        }
        kvArraysInUse.incrementAndGet();
        return block != null ? block : new float[length];
    }

    void giveKvBlock(float[] block) {
        java.util.ArrayDeque<float[]> free = freeKv.computeIfAbsent(block.length, n -> new java.util.ArrayDeque<>());
        synchronized (free) {
            free.push(block);
        }
        kvArraysInUse.decrementAndGet();
    }

    private final Map<ModelConfig, CpuBatch.Scratch> scratch = new java.util.IdentityHashMap<>();
    /** Attention scores, one buffer per part of the team: part i + 1 runs on worker i, part 0 on the caller, never two at once. */
    private final float[][] scores;

    /** Activations for {@code rows} tokens of a model, reused (grown when a step needs more). */
    synchronized CpuBatch.Scratch scratch(ModelConfig c, int rows) {
        CpuBatch.Scratch s = scratch.get(c);
        if (s == null || s.rows < rows) {
            s = new CpuBatch.Scratch(c, Math.max(rows, s == null ? 0 : s.rows * 2));
            scratch.put(c, s);
        }
        return s;
    }

    /** Attention scores of team part {@code part}, at least {@code length} long (any buffer that long will do). */
    float[] scoresFor(int part, int length) {
        if (scores[part] == null || scores[part].length < length) {
            scores[part] = new float[length];
        }
        return scores[part];
    }

    /**
     * {@code outs[i][t][r] = ws[i][r] · xs[t]} for every row r of every matrix and every token t below
     * {@code rows}: each weight row is read once and multiplied by every token. Rows of all matrices
     * together are cut into one contiguous range per thread.
     */
    void matmul(float[][] xs, int rows, Tensor[] ws, float[][][] outs) {
        int total = 0;
        for (Tensor w : ws) {
            total += w.rows;
        }
        int all = total;
        team.run((part, parts) -> {
            int from = (int) ((long) all * part / parts);
            int to = (int) ((long) all * (part + 1) / parts);
            int base = 0;
            for (int i = 0; i < ws.length && base < to; i++) {
                int lo = Math.max(from, base) - base;
                int hi = Math.min(to, base + ws[i].rows) - base;
                Tensor w = ws[i];
                float[][] out = outs[i];
                float[] four = new float[4];
                if (rows == 1) { // one token: two rows at a time keep more of the weights streaming
                    int r = lo;
                    for (; r + 1 < hi; r += 2) {
                        kernels.rowDotPair(w, r, xs[0], four);
                        out[0][r] = four[0];
                        out[0][r + 1] = four[1];
                    }
                    if (r < hi) {
                        out[0][r] = kernels.rowDot(w, r, xs[0]);
                    }
                    base += ws[i].rows;
                    continue;
                }
                for (int r = lo; r < hi; r++) {
                    for (int t = 0; t < rows; t += 4) {
                        int count = Math.min(4, rows - t);
                        kernels.rowDots(w, r, xs, t, count, four);
                        for (int j = 0; j < count; j++) {
                            out[t + j][r] = four[j];
                        }
                    }
                }
                base += ws[i].rows;
            }
        });
    }

    /** Runs {@code task} split over the engine's threads (part 0 on the calling thread). */
    void parallel(WorkerTeam.Task task) {
        team.run(task);
    }

    /**
     * Compute time consumed so far, ns: the calling thread's CPU time plus the time the workers spent
     * running tasks. Workers spin briefly between tasks; that spinning is not work and is not metered.
     */
    long cpuNanos() {
        long caller = cpuTimeSupported ? cpuClock.getCurrentThreadCpuTime() : System.nanoTime();
        return caller + team.taskNanos();
    }

    @Override
    public void close() {
        team.close();
    }
}
