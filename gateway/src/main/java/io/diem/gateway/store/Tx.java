package io.diem.gateway.store;

import io.diem.gateway.error.GatewayException.Kind;
import io.diem.gateway.error.GatewayException;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.function.LongConsumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Runs units of work as transactions on the {@link Db}: commit when the work returns, roll back when
 * it throws. A transaction that lost a serialisation race or a deadlock (PostgreSQL SQLSTATE 40001,
 * 40P01) is run again, up to {@value #ATTEMPTS} times in all, so work must not have effects outside
 * the database. A unique-key violation (23505) is retried only where the caller asks for it
 * ({@link #runRetryingDuplicateKey}): an "update, else insert" or "insert if absent" that lost the
 * insert to another gateway reads the winner's row on the next attempt (prices, the gateway secret,
 * node rows and their daily offer, epoch close). Every other database failure becomes
 * {@code UNAVAILABLE}; refusals thrown by the work pass through unchanged. A transaction that wrote
 * returns only once its commit is durable ({@link Db#awaitDurable}).
 */
public final class Tx {

    private static final Logger LOG = Logger.getLogger(Tx.class.getName());

    /** A unit of work on one transaction's statements. */
    @FunctionalInterface
    public interface Work<T> {
        T run(Sql sql) throws SQLException;
    }

    static final int ATTEMPTS = 5;

    private final Db db;
    /** Told the duration (ns) of every transaction, retries included; a no-op until set. */
    private volatile LongConsumer durationNanos = n -> {};
    private volatile java.util.function.Consumer<String> databaseErrors = state -> {};

    public Tx(Db db) {
        this.db = db;
    }

    public Db db() {
        return db;
    }

    /** Reports every transaction's duration (ns) to {@code listener} (the ledger-latency metric). */
    public void onTransaction(LongConsumer listener) {
        this.durationNanos = listener;
    }

    /** Tells {@code listener} the SQLSTATE of every transaction that failed on a database error (after retries). */
    public void onDatabaseError(java.util.function.Consumer<String> listener) {
        this.databaseErrors = listener;
    }

    /** Runs {@code work} as one transaction, retried on serialisation failures and deadlocks. */
    public <T> T run(Work<T> work) {
        return timed(work, false);
    }

    /** As {@link #run}, and also retried when an insert lost a race on a unique key. */
    public <T> T runRetryingDuplicateKey(Work<T> work) {
        return timed(work, true);
    }

    private <T> T timed(Work<T> work, boolean retryDuplicateKey) {
        long start = System.nanoTime();
        try {
            return attempt(work, retryDuplicateKey);
        } finally {
            durationNanos.accept(System.nanoTime() - start);
        }
    }

    private <T> T attempt(Work<T> work, boolean retryDuplicateKey) {
        for (int attempt = 1; ; attempt++) {
            try (Connection c = db.connection()) {
                try {
                    Sql sql = new Sql(c, db.isPostgres());
                    T result = work.run(sql);
                    c.commit();
                    if (sql.wrote()) {
                        db.awaitDurable(); // nobody is told of a write before it is on the device
                    }
                    return result;
                } catch (SQLException | RuntimeException e) {
                    c.rollback();
                    throw e;
                }
            } catch (SQLException e) {
                if (retryable(e.getSQLState(), retryDuplicateKey) && attempt < ATTEMPTS) {
                    continue;
                }
                // The database's own text (SQL, values) stays in the gateway's log; the caller gets the SQLSTATE.
                LOG.log(Level.WARNING, "ledger database error (SQLSTATE " + e.getSQLState() + "): " + e.getMessage(), e);
                databaseErrors.accept(e.getSQLState() == null ? "unknown" : e.getSQLState());
                throw new GatewayException(Kind.UNAVAILABLE, "ledger database error (SQLSTATE " + e.getSQLState()
                        + "); the gateway logged the details, retry later", e);
            }
        }
    }

    static boolean retryable(String sqlState, boolean retryDuplicateKey) {
        return "40001".equals(sqlState) || "40P01".equals(sqlState) || (retryDuplicateKey && "23505".equals(sqlState));
    }
}
