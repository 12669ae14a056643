package io.diem.agent.engine.cpu;

import io.diem.agent.engine.InferenceEngine;
import io.diem.agent.engine.Sequence;
import io.diem.agent.model.Model;
import io.diem.v1.ComputeKind;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

/**
 * The plain-Java reference engine. Matrix-vector products are split by rows over a private pool of
 * {@code threads} workers; the meter is the CPU time those workers and the calling thread spend in
 * a step (read from the JVM's per-thread CPU clocks), so it reports CPU-seconds, not wall time.
 */
public final class CpuEngine implements InferenceEngine {

    /** Rows per parallel task: enough work per task to amortise the fork. */
    private static final int ROWS_PER_TASK = 64;

    private final int threads;
    private final ForkJoinPool pool;
    private final List<Thread> workers = new CopyOnWriteArrayList<>();
    private final ThreadMXBean cpuClock = ManagementFactory.getThreadMXBean();
    private final boolean cpuTimeSupported;

    public CpuEngine(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.cpuTimeSupported = cpuClock.isCurrentThreadCpuTimeSupported() && cpuClock.isThreadCpuTimeSupported();
        if (cpuTimeSupported && !cpuClock.isThreadCpuTimeEnabled()) {
            cpuClock.setThreadCpuTimeEnabled(true);
        }
        this.pool = threads == 1 ? null : new ForkJoinPool(threads - 1, p -> {
            ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
            t.setName("cpu-engine-" + t.getPoolIndex());
            t.setDaemon(true);
            workers.add(t);
            return t;
        }, null, false);
    }

    public int threads() {
        return threads;
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public ComputeKind computeKind() {
        return ComputeKind.COMPUTE_KIND_CPU;
    }

    @Override
    public Sequence newSequence(Model model, int capacity) {
        return new CpuSequence(this, model, capacity);
    }

    /** {@code out[r] = W[r] · x} for every row of {@code w}, in parallel over rows. */
    void matvec(io.diem.agent.model.Tensor w, float[] x, float[] out) {
        int rows = w.rows;
        if (pool == null || rows < 2 * ROWS_PER_TASK) {
            for (int r = 0; r < rows; r++) {
                out[r] = w.dot(r, x, 0);
            }
            return;
        }
        int tasks = (rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        pool.submit(() -> IntStream.range(0, tasks).parallel().forEach(t -> {
            int end = Math.min(rows, (t + 1) * ROWS_PER_TASK);
            for (int r = t * ROWS_PER_TASK; r < end; r++) {
                out[r] = w.dot(r, x, 0);
            }
        })).join();
    }

    /** CPU time consumed so far by the calling thread and the pool's workers, in nanoseconds. */
    long cpuNanos() {
        if (!cpuTimeSupported) {
            return System.nanoTime();
        }
        long total = cpuClock.getCurrentThreadCpuTime();
        for (Thread t : workers) {
            long ns = cpuClock.getThreadCpuTime(t.getId());
            if (ns > 0) {
                total += ns;
            }
        }
        return total;
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdown();
            try {
                if (!pool.awaitTermination(5, TimeUnit.SECONDS)) {
                    pool.shutdownNow();
                }
            } catch (InterruptedException e) {
                pool.shutdownNow();
                Thread.currentThread().interrupt();
            }
        }
    }
}
