package io.diem.agent.engine.cpu;

import io.diem.agent.engine.InferenceEngine;
import io.diem.agent.engine.Sequence;
import io.diem.agent.model.Model;
import io.diem.agent.model.Tensor;
import io.diem.v1.ComputeKind;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

/**
 * The plain-Java reference engine. Matrix-vector products are split by rows over the calling thread
 * and a {@link WorkerTeam} of {@code threads - 1} workers; the meter is the calling thread's CPU time plus the workers' task time in
 * a step (never their idle spinning), so it reports CPU-seconds of work, not wall time.
 */
public final class CpuEngine implements InferenceEngine {

    /** Fewest rows worth handing to another thread. */
    private static final int MIN_ROWS_PER_PART = 32;

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

    /**
     * {@code outs[i][r] = ws[i][r] · x} for every row of every matrix (matrices that read the same
     * input are multiplied in one parallel pass). The rows of all matrices together are cut into
     * {@code threads} contiguous ranges, one per thread of the team.
     */
    void matvec(float[] x, Tensor[] ws, float[][] outs) {
        int total = 0;
        for (Tensor w : ws) {
            total += w.rows;
        }
        int rows = total;
        team.run((part, parts) -> {
            int from = (int) ((long) rows * part / parts);
            int to = (int) ((long) rows * (part + 1) / parts);
            int base = 0;
            for (int i = 0; i < ws.length && base < to; i++) {
                int lo = Math.max(from, base) - base;
                int hi = Math.min(to, base + ws[i].rows) - base;
                for (int r = lo; r < hi; r++) {
                    outs[i][r] = kernels.rowDot(ws[i], r, x);
                }
                base += ws[i].rows;
            }
        });
    }

    /** Runs {@code task} split over the engine's threads (part 0 on the calling thread). */
    void parallel(WorkerTeam.Task task) {
        team.run(task);
    }

    void matvec(Tensor w, float[] x, float[] out) {
        matvec(x, new Tensor[] {w}, new float[][] {out});
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
