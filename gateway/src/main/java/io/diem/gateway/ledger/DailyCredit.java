package io.diem.gateway.ledger;

import io.diem.common.UnixMicros;
import io.diem.gateway.ledger.LedgerViews.Balance;
import io.diem.gateway.store.Sql;
import java.sql.SQLException;
import java.time.Instant;

/**
 * What each account and each key spent and holds reserved per UTC day ({@code account_days},
 * {@code key_days}): the counters every reservation, charge and release moves, and the balance they
 * leave. Both tables have the same shape, so one class serves them through {@link Counter}.
 */
final class DailyCredit {

    /** Which per-day counter table a change applies to. */
    enum Counter {
        ACCOUNT("account_days", "account_id"), KEY("key_days", "key_id");

        final String table;
        final String column;

        Counter(String table, String column) {
            this.table = table;
            this.column = column;
        }
    }

    /** One day's counters, in µUSD. */
    record Used(long spent, long reserved) {}

    private DailyCredit() {}

    static void ensure(Sql sql, Counter counter, String id, String day) throws SQLException {
        sql.update("INSERT INTO " + counter.table + " (" + counter.column + ", utc_day) VALUES (?, ?) ON CONFLICT DO NOTHING", id, day);
    }

    static Used used(Sql sql, Counter counter, String id, String day, boolean lock) throws SQLException {
        return sql.one("SELECT spent, reserved FROM " + counter.table + " WHERE " + counter.column + " = ? AND utc_day = ?"
                + (lock ? " FOR UPDATE" : ""), rs -> new Used(rs.getLong(1), rs.getLong(2)), id, day).orElse(new Used(0, 0));
    }

    /** Adds {@code spent} and {@code reserved} (either may be negative) to the day's row, which must exist. */
    static void add(Sql sql, Counter counter, String id, String day, long spent, long reserved) throws SQLException {
        int n = sql.update("UPDATE " + counter.table + " SET spent = spent + ?, reserved = reserved + ? WHERE " + counter.column
                + " = ? AND utc_day = ?", spent, reserved, id, day);
        if (n != 1) {
            throw new IllegalStateException(counter.table + " row for " + id + " on " + day + " is missing");
        }
    }

    /** The account's credit on the day of {@code now}, from its (read or locked) row. */
    static Balance balance(Sql sql, AccountRow row, LedgerConfig config, long now) throws SQLException {
        String day = UnixMicros.day(now);
        Used used = used(sql, Counter.ACCOUNT, row.id, day, false);
        long allowance = row.allowance(config);
        Instant resetsAt = UnixMicros.instant(UnixMicros.startOfDay(day) + UnixMicros.PER_DAY);
        return new Balance(row.id, allowance, used.spent(), used.reserved(),
                Math.max(0, allowance - used.spent() - used.reserved()), resetsAt);
    }
}
