package io.diem.gateway.ledger;

import io.diem.common.UnixMicros;
import io.diem.gateway.ledger.DailyCredit.Counter;
import io.diem.gateway.ledger.Reservation.State;
import io.diem.gateway.store.Sql;
import io.diem.gateway.store.Tx;
import java.sql.SQLException;
import java.time.Clock;
import java.util.List;
import java.util.Optional;

/**
 * Credit leases in the ledger ({@code credit_leases}): a slice of one account's credit for one UTC
 * day (and of its key's daily limit), taken by one gateway in one transaction so that it can admit
 * calls against it without locking the account row per call. Granting debits the slice from the
 * day's {@code reserved} counters, exactly like a reservation, so the sum of leases, reservations
 * and charges never exceeds the allowance however many gateways share the ledger. Each call's
 * reservation is carved from a lease (no counter moves; {@code carved} grows), and returning or
 * expiring a lease gives back {@code granted - carved}. Locks are taken lease row first, account
 * row second, everywhere. Amounts in µUSD, times in µs since the epoch.
 */
public final class CreditLeases {

    /** An open lease as granted: its day and how much it holds. */
    public record Lease(String leaseId, String gatewayId, String accountId, String keyId, String day, long granted,
            long expiresAt) {}

    private final Tx tx;
    private final Credit credit;
    private final LedgerConfig config;
    private final Clock clock;

    CreditLeases(Tx tx, Credit credit, LedgerConfig config, Clock clock) {
        this.tx = tx;
        this.credit = credit;
        this.config = config;
        this.clock = clock;
    }

    /**
     * Grants a lease of {@code want} µUSD, or less: never more than half of what the account (and the
     * key) can still take today, so other gateways and keys still find credit, and never less than
     * {@code min}; empty (nothing held) when even {@code min} does not fit.
     */
    public Optional<Lease> grant(String leaseId, String gatewayId, String accountId, String keyId, long want, long min,
            long expiresAt) {
        if (min <= 0 || want < min) {
            throw new IllegalArgumentException("a lease needs 0 < min <= want, got min " + min + ", want " + want);
        }
        return tx.run(sql -> {
            long now = UnixMicros.now(clock);
            String day = UnixMicros.day(now);
            AccountRow row = AccountRow.lockAndMature(sql, accountId, now);
            long available = credit.headroom(sql, row, keyId, day, now).available();
            long amount = Math.min(want, Math.max(min, available / 2));
            if (amount > available) {
                return Optional.<Lease>empty();
            }
            DailyCredit.add(sql, Counter.ACCOUNT, accountId, day, 0, amount);
            if (keyId != null) {
                DailyCredit.add(sql, Counter.KEY, keyId, day, 0, amount);
            }
            sql.update("INSERT INTO credit_leases (lease_id, gateway_id, account_id, key_id, utc_day, granted, state, created_at, "
                    + "expires_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?)", leaseId, gatewayId, accountId, keyId, day, amount, now,
                    expiresAt);
            return Optional.of(new Lease(leaseId, gatewayId, accountId, keyId, day, amount, expiresAt));
        });
    }

    /**
     * Records, inside the caller's transaction, a call's reservation of {@code amount} carved from
     * {@code lease}: false (nothing written) when the lease is no longer open, has expired, belongs to
     * another day or cannot cover it.
     */
    boolean carve(Sql sql, Lease lease, String reservationId, long amount) throws SQLException {
        long now = UnixMicros.now(clock);
        int carved = sql.update("UPDATE credit_leases SET carved = carved + ? WHERE lease_id = ? AND state = 'open' "
                + "AND carved + ? <= granted AND expires_at > ? AND utc_day = ?", amount, lease.leaseId(), amount, now,
                UnixMicros.day(now));
        if (carved != 1) {
            return false;
        }
        sql.update("INSERT INTO reservations (reservation_id, account_id, key_id, utc_day, amount, state, created_at, expires_at, "
                + "lease_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", reservationId, lease.accountId(), lease.keyId(), lease.day(),
                amount, State.PENDING.column(), now, now + config.reservationTtl().toNanos() / 1000, lease.leaseId());
        return true;
    }

    /** Gives back the uncarved part of an open lease; returns it (0 when the lease was closed already). */
    public long giveBack(String leaseId) {
        return tx.run(sql -> Math.max(0, close(sql, leaseId, "returned")));
    }

    /** Expires every open lease past its end (a gateway that died holding it); returns how many. */
    public int expire() {
        List<String> due = tx.run(sql -> sql.list("SELECT lease_id FROM credit_leases WHERE state = 'open' AND expires_at <= ? "
                + "ORDER BY expires_at LIMIT 1000", rs -> rs.getString(1), UnixMicros.now(clock)));
        int expired = 0;
        for (String id : due) {
            if (tx.run(sql -> close(sql, id, "expired")) >= 0) {
                expired++;
            }
        }
        return expired;
    }

    /** Returns every lease {@code gatewayId} still holds open (its previous run's, at start); returns how many. */
    public int giveBackAll(String gatewayId) {
        List<String> open = tx.run(sql -> sql.list("SELECT lease_id FROM credit_leases WHERE gateway_id = ? AND state = 'open'",
                rs -> rs.getString(1), gatewayId));
        for (String id : open) {
            giveBack(id);
        }
        return open.size();
    }

    /** µUSD held by open leases and not yet carved, over all accounts (a gauge). */
    public long held() {
        return tx.run(sql -> sql.number("SELECT COALESCE(SUM(granted - carved), 0) FROM credit_leases WHERE state = 'open'"));
    }

    /** Closes a lease (lease row locked first, then the account's); -1 when it was not open. */
    private long close(Sql sql, String leaseId, String to) throws SQLException {
        record Open(String accountId, String keyId, String day, long unused) {}
        Open lease = sql.one("SELECT account_id, key_id, utc_day, granted - carved FROM credit_leases WHERE lease_id = ? "
                + "AND state = 'open' FOR UPDATE", rs -> new Open(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4)),
                leaseId).orElse(null);
        if (lease == null) {
            return -1;
        }
        long now = UnixMicros.now(clock);
        AccountRow.lockAndMature(sql, lease.accountId(), now);
        DailyCredit.add(sql, Counter.ACCOUNT, lease.accountId(), lease.day(), 0, -lease.unused());
        if (lease.keyId() != null) {
            DailyCredit.add(sql, Counter.KEY, lease.keyId(), lease.day(), 0, -lease.unused());
        }
        sql.update("UPDATE credit_leases SET state = ?, closed_at = ? WHERE lease_id = ?", to, now, leaseId);
        return lease.unused();
    }
}
