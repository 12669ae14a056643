package io.diem.agent.engine.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed team of worker threads that run one task at a time in parallel with the caller, for the
 * many short matrix products of a forward pass. Workers spin briefly between tasks (a park/unpark
 * costs tens of microseconds, and a decode step issues dozens of products), then park once idle for
 * {@link #SPIN_NANOS}. Hazard: the publish/park handshake relies on the volatile write of
 * {@code generation} by the caller and of {@code sleeping[i]} by a worker being seen in order by
 * the other side; each side writes its flag before reading the other's, so no wake-up is lost.
 */
final class WorkerTeam implements AutoCloseable {

    /** A unit of parallel work: part {@code part} of {@code parts} (part 0 runs on the caller). */
    @FunctionalInterface
    interface Task {
        void run(int part, int parts);
    }

    private static final long SPIN_NANOS = 2_000_000;

    private final Thread[] workers;
    private final java.util.concurrent.atomic.AtomicIntegerArray sleeping;
    private final AtomicInteger remaining = new AtomicInteger();
    private volatile long generation;
    private volatile Task task;
    private volatile boolean closed;
    private volatile Throwable failure;
    /** CPU time the workers spent running tasks (not spinning or parked), ns. */
    private final java.util.concurrent.atomic.AtomicLong taskNanos = new java.util.concurrent.atomic.AtomicLong();
    /** Each worker meters its own thread's CPU time: on a busy host wall time would bill time it waited for a core. */
    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();
    private static final boolean CPU_TIME = THREADS.isCurrentThreadCpuTimeSupported();

    WorkerTeam(int extraThreads, String name) {
        workers = new Thread[extraThreads];
        sleeping = new java.util.concurrent.atomic.AtomicIntegerArray(extraThreads);
        for (int i = 0; i < extraThreads; i++) {
            int index = i;
            workers[i] = new Thread(() -> work(index), name + "-" + (i + 1));
            workers[i].setDaemon(true);
            workers[i].start();
        }
    }

    /**
     * CPU time the workers have spent running tasks so far (excluding spinning and parking), ns; wall
     * time only on a JVM that cannot read a thread's CPU time.
     */
    long taskNanos() {
        return taskNanos.get();
    }

    /** Runs {@code t} as {@code workers + 1} parts and returns when every part is done. */
    void run(Task t) {
        int parts = workers.length + 1;
        if (workers.length == 0) {
            t.run(0, 1);
            return;
        }
        task = t;
        remaining.set(workers.length);
        generation = generation + 1; // publish (only the caller thread writes generation)
        for (int i = 0; i < workers.length; i++) {
            if (sleeping.get(i) == 1) {
                LockSupport.unpark(workers[i]);
            }
        }
        Throwable mine = null;
        try {
            t.run(0, parts);
        } catch (Throwable e) {
            mine = e;
        }
        while (remaining.get() != 0) {
            Thread.onSpinWait();
        }
        task = null;
        Throwable theirs = failure;
        if (mine != null || theirs != null) {
            failure = null;
            Throwable f = mine != null ? mine : theirs;
            if (f instanceof RuntimeException r) {
                throw r;
            }
            if (f instanceof Error e) {
                throw e;
            }
            throw new IllegalStateException(f);
        }
    }

    private void work(int index) {
        long seen = 0;
        long idleSince = System.nanoTime();
        int parts = workers.length + 1;
        while (!closed) {
            long g = generation;
            if (g != seen) {
                seen = g;
                long began = CPU_TIME ? THREADS.getCurrentThreadCpuTime() : System.nanoTime();
                try {
                    task.run(index + 1, parts);
                } catch (Throwable e) {
                    failure = e;
                } finally {
                    taskNanos.addAndGet((CPU_TIME ? THREADS.getCurrentThreadCpuTime() : System.nanoTime()) - began);
                    remaining.decrementAndGet();
                }
                idleSince = System.nanoTime();
                continue;
            }
            if (System.nanoTime() - idleSince < SPIN_NANOS) {
                Thread.onSpinWait();
                continue;
            }
            sleeping.set(index, 1);
            if (generation == seen && !closed) {
                LockSupport.park(this);
            }
            sleeping.set(index, 0);
            idleSince = System.nanoTime();
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
        for (Thread w : workers) {
            try {
                w.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
