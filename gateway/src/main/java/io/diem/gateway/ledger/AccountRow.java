package io.diem.gateway.ledger;

import io.diem.gateway.error.GatewayException.Kind;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.store.Sql;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * One account's balances as a mutable row inside a transaction: read (locked with
 * {@code FOR UPDATE} when it will change, so gateways sharing a PostgreSQL ledger serialise per
 * account), changed in memory, written back with {@link #store}. Amounts in micro-units; times in
 * µs since the epoch (0 = none).
 */
final class AccountRow {

    static final String COLUMNS = "account_id, vvv, svvv, svvv_locked, vvv_unstaking, vvv_unstaking_until, "
            + "diem, diem_staked, diem_unstaking, diem_unstaking_until, diem_minted, name, created_at";

    String id;
    String name;
    long createdAt;
    long vvv, svvv, svvvLocked, vvvUnstaking, vvvUnstakingUntil, diem, diemStaked, diemUnstaking, diemUnstakingUntil,
            diemMinted;

    /** The account's row, locked when {@code lock}; NOT_FOUND when there is none. */
    static AccountRow read(Sql sql, String accountId, boolean lock) throws SQLException {
        return sql.one("SELECT " + COLUMNS + " FROM accounts WHERE account_id = ?" + (lock ? " FOR UPDATE" : ""), AccountRow::map,
                accountId == null ? "" : accountId)
                .orElseThrow(() -> new GatewayException(Kind.NOT_FOUND, "no account '" + accountId + "'"));
    }

    /**
     * Locks the row and returns matured DIEM (cooldown over) to the liquid balance; within one
     * transaction the row is locked and read once, and later calls get the same (possibly changed and
     * stored) object.
     */
    static AccountRow lockAndMature(Sql sql, String accountId, long now) throws SQLException {
        return sql.once("account:" + accountId, s -> lockAndMatureNow(s, accountId, now));
    }

    private static AccountRow lockAndMatureNow(Sql sql, String accountId, long now) throws SQLException {
        AccountRow row = read(sql, accountId, true);
        if (row.diemUnstaking > 0 && now >= row.diemUnstakingUntil) {
            row.diem += row.diemUnstaking;
            row.diemUnstaking = 0;
            row.diemUnstakingUntil = 0;
            row.store(sql);
        }
        return row;
    }

    /** The current result row, selected as {@link #COLUMNS}. */
    static AccountRow map(ResultSet rs) throws SQLException {
        AccountRow r = new AccountRow();
        r.id = rs.getString(1);
        r.vvv = rs.getLong(2);
        r.svvv = rs.getLong(3);
        r.svvvLocked = rs.getLong(4);
        r.vvvUnstaking = rs.getLong(5);
        r.vvvUnstakingUntil = rs.getLong(6);
        r.diem = rs.getLong(7);
        r.diemStaked = rs.getLong(8);
        r.diemUnstaking = rs.getLong(9);
        r.diemUnstakingUntil = rs.getLong(10);
        r.diemMinted = rs.getLong(11);
        r.name = rs.getString(12);
        r.createdAt = rs.getLong(13);
        return r;
    }

    void store(Sql sql) throws SQLException {
        sql.update("UPDATE accounts SET vvv = ?, svvv = ?, svvv_locked = ?, vvv_unstaking = ?, vvv_unstaking_until = ?, diem = ?, "
                + "diem_staked = ?, diem_unstaking = ?, diem_unstaking_until = ?, diem_minted = ? WHERE account_id = ?",
                vvv, svvv, svvvLocked, vvvUnstaking, vvvUnstakingUntil, diem, diemStaked, diemUnstaking, diemUnstakingUntil,
                diemMinted, id);
    }

    /** Today's allowance: staked DIEM × $1 (1 µDIEM staked = 1 µUSD per day), nothing below the minimum stake. */
    long allowance(LedgerConfig config) {
        return diemStaked >= config.minStakeMicro() ? diemStaked : 0;
    }
}
