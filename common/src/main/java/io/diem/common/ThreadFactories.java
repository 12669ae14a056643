package io.diem.common;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

/** Named daemon threads whose uncaught failures are logged, never lost. */
public final class ThreadFactories {

    private static final Logger LOG = Logger.getLogger(ThreadFactories.class.getName());

    private ThreadFactories() {}

    /** Threads named {@code name} (the first) and {@code name-2}, {@code name-3}, … after it. */
    public static ThreadFactory daemon(String name) {
        AtomicInteger count = new AtomicInteger();
        return task -> {
            int n = count.incrementAndGet();
            Thread t = new Thread(task, n == 1 ? name : name + "-" + n);
            t.setDaemon(true);
            t.setUncaughtExceptionHandler((thread, e) -> LOG.log(Level.SEVERE, "thread " + thread.getName() + " died", e));
            return t;
        };
    }
}
