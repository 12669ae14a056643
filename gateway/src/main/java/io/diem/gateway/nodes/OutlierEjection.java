package io.diem.gateway.nodes;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Dispatch health of each node as this gateway sees it, in the manner of Envoy's outlier detection:
 * after {@value #EJECT_AFTER} consecutive failed dispatches a node is ejected from selection for a
 * back-off (1 s, doubling with each ejection in a row, at most 30 s); once the back-off ends it may be
 * tried again, but until a dispatch to it succeeds it is "unproven" and picked only when no proven
 * node can take the job. One success clears it. In memory only: a restarted gateway trusts every
 * node with a session again.
 */
public final class OutlierEjection {

    static final int EJECT_AFTER = 3;
    static final long FIRST_EJECTION_NANOS = 1_000_000_000L;
    static final long MAX_EJECTION_NANOS = 30_000_000_000L;

    private static final class Record {
        int consecutiveFailures;
        int ejections;
        long ejectedUntil;
        boolean unproven;
    }

    private final Map<String, Record> records = new ConcurrentHashMap<>();
    private final LongSupplier nanoTime;

    public OutlierEjection() {
        this(System::nanoTime);
    }

    OutlierEjection(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
    }

    /** A dispatch to the node failed (the node or its link, not the caller or the request). */
    public void failed(String nodeId) {
        Record r = records.computeIfAbsent(nodeId, id -> new Record());
        synchronized (r) {
            r.unproven = true;
            if (++r.consecutiveFailures >= EJECT_AFTER) {
                long backoff = Math.min(MAX_EJECTION_NANOS, FIRST_EJECTION_NANOS << Math.min(r.ejections, 5));
                r.ejectedUntil = nanoTime.getAsLong() + backoff;
                r.ejections++;
                r.consecutiveFailures = 0;
            }
        }
    }

    /** A dispatch to the node succeeded: it is proven healthy again. */
    public void succeeded(String nodeId) {
        records.remove(nodeId);
    }

    /** Ejected now: not picked at all. */
    public boolean ejected(String nodeId) {
        Record r = records.get(nodeId);
        if (r == null) {
            return false;
        }
        synchronized (r) {
            return nanoTime.getAsLong() < r.ejectedUntil;
        }
    }

    /** Failed since its last success: picked only when no proven node can take the job. */
    public boolean unproven(String nodeId) {
        Record r = records.get(nodeId);
        if (r == null) {
            return false;
        }
        synchronized (r) {
            return r.unproven;
        }
    }
}
