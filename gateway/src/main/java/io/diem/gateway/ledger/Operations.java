package io.diem.gateway.ledger;

import io.diem.gateway.store.Sql;
import java.sql.SQLException;
import java.util.List;

/**
 * The append-only history of what happened to each account ({@code operations}): every stake,
 * mint, key and charge, so any balance can be audited back to its events. Settlement reads the
 * VVV stake changes from it to weigh stakers by time.
 */
public final class Operations {

    /** A change of an account's staked VVV at {@code at} (µs): positive for a stake, negative for an unstake. */
    public record StakeChange(String accountId, long delta, long at) {}

    private Operations() {}

    static void record(Sql sql, String opId, String accountId, String kind, long amount, String detail, long now)
            throws SQLException {
        sql.update("INSERT INTO operations (op_id, account_id, kind, amount, detail, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                opId, accountId, kind, amount, detail.length() > 256 ? detail.substring(0, 256) : detail, now);
    }

    /** Every VVV stake and unstake before {@code before} (µs), oldest first. */
    public static List<StakeChange> vvvStakeChanges(Sql sql, long before) throws SQLException {
        return sql.list("SELECT account_id, kind, amount, created_at FROM operations WHERE kind IN ('stake_vvv', 'unstake_vvv') "
                + "AND created_at < ? ORDER BY created_at, op_id",
                rs -> new StakeChange(rs.getString(1), rs.getString(2).equals("stake_vvv") ? rs.getLong(3) : -rs.getLong(3),
                        rs.getLong(4)), before);
    }
}
