package io.diem.common;

import java.io.PrintStream;

/**
 * Progress of long work (loading or writing gigabytes) on stderr: on a terminal, a percentage redrawn
 * in place at most ten times a second; elsewhere (journald, a pipe, a CI log) one line when it is done.
 * Whether stderr is a terminal is judged by {@link System#console()} (stdin and stdout attached to one).
 */
public final class Progress {

    private final PrintStream out;
    private final String what;
    private final long total;
    private final boolean terminal;
    private final long startNanos = System.nanoTime();
    private long done;
    private int shownPercent = -1;
    private long shownAtNanos;

    private Progress(PrintStream out, String what, long total, boolean terminal) {
        this.out = out;
        this.what = what;
        this.total = Math.max(1, total);
        this.terminal = terminal;
    }

    /** Progress of {@code what} over {@code totalBytes}, on {@code out}; null {@code out} reports nothing. */
    public static Progress of(PrintStream out, String what, long totalBytes) {
        return new Progress(out, what, totalBytes, System.console() != null);
    }

    /** Work smaller than this finishes too fast to be worth a progress report. */
    public static final long LARGE_BYTES = 256L << 20;

    /** As {@link #of}, but silent unless {@code totalBytes} is over {@link #LARGE_BYTES}. */
    public static Progress ofLarge(PrintStream out, String what, long totalBytes) {
        return of(totalBytes > LARGE_BYTES ? out : null, what, totalBytes);
    }

    /** As {@link #of}, with the terminal judgement given (tests). */
    static Progress of(PrintStream out, String what, long totalBytes, boolean terminal) {
        return new Progress(out, what, totalBytes, terminal);
    }

    /** {@code bytes} more are done. Thread-safe. */
    public synchronized void add(long bytes) {
        done += bytes;
        if (out == null || !terminal) {
            return;
        }
        int percent = (int) Math.min(100, 100 * done / total);
        long now = System.nanoTime();
        if (percent != shownPercent && now - shownAtNanos > 100_000_000L) {
            out.printf("\r%s: %3d%% (%.2f of %.2f GB)", what, percent, done / 1e9, total / 1e9);
            out.flush();
            shownPercent = percent;
            shownAtNanos = now;
        }
    }

    /** Ends the report: the final percentage line on a terminal, the one summary line elsewhere. */
    public synchronized void done() {
        if (out == null) {
            return;
        }
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        if (terminal) {
            out.printf("\r%s: 100%% (%.2f GB) in %.1f s%n", what, done / 1e9, seconds);
        } else {
            out.printf("%s: %.2f GB in %.1f s%n", what, done / 1e9, seconds);
        }
        out.flush();
    }
}
