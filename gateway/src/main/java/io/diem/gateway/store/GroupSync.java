package io.diem.gateway.store;

import java.io.IOException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Makes commits durable with as few file syncs as possible: a committer calls {@link #await} after
 * its commit returned, and comes back once a sync that started after that point has finished. While
 * one sync runs, every committer that arrives waits for the next one, which then covers them all
 * (group commit), so under load many commits share one fsync and when idle each pays one.
 */
final class GroupSync {

    /** One sync of the file to the device. */
    @FunctionalInterface
    interface Force {
        void run() throws IOException;
    }

    private final Force force;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition finished = lock.newCondition();
    private long requested;
    private long synced;
    private boolean forcing;
    private long syncs;

    GroupSync(Force force) {
        this.force = force;
    }

    /** Returns once everything written before this call is on the device; throws when the sync failed. */
    void await() throws IOException {
        lock.lock();
        try {
            long mine = ++requested;
            while (synced < mine) {
                if (forcing) {
                    finished.awaitUninterruptibly();
                    continue;
                }
                forcing = true;
                long covers = requested; // every request so far was made after its commit: this sync covers them
                IOException failure = null;
                lock.unlock();
                try {
                    force.run();
                } catch (IOException e) {
                    failure = e;
                } finally {
                    lock.lock();
                    forcing = false;
                    finished.signalAll();
                }
                if (failure != null) {
                    throw failure;
                }
                syncs++;
                synced = Math.max(synced, covers);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Syncs done so far. */
    long syncs() {
        lock.lock();
        try {
            return syncs;
        } finally {
            lock.unlock();
        }
    }
}
