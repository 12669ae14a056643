package io.diem.gateway.ledger;

import io.diem.common.UnixMicros;
import io.diem.gateway.error.GatewayException.Kind;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.ledger.DailyCredit.Counter;
import io.diem.gateway.ledger.LedgerViews.Balance;
import io.diem.gateway.ledger.LedgerViews.Charge;
import io.diem.gateway.ledger.LedgerViews.UsageRecord;
import io.diem.gateway.ledger.Reservation.State;
import io.diem.gateway.store.Sql;
import io.diem.gateway.store.Tx;
import java.sql.SQLException;
import java.time.Clock;
import java.util.List;
import java.util.Optional;

/**
 * Today's inference credit of each account: reservations held for calls in flight, posted as
 * charges when their usage is booked, voided or expired otherwise. Every change locks the account's
 * row first, so gateways sharing a PostgreSQL ledger never reserve or charge an account beyond its
 * allowance (or a key beyond its daily limit), and all take their locks in one order (account, then
 * its day's counters) so they cannot deadlock. Amounts in µUSD.
 */
public final class Credit {

    private final Tx tx;
    private final LedgerConfig config;
    private final Clock clock;

    public Credit(Tx tx, LedgerConfig config, Clock clock) {
        this.tx = tx;
        this.config = config;
        this.clock = clock;
    }

    private long now() {
        return UnixMicros.now(clock);
    }

    /**
     * Today's allowance, spent and reserved. A read: it takes no row lock (the allowance depends only on
     * staked DIEM, which maturing an unstake does not touch), so balance reads never queue behind an
     * account's reservations.
     */
    public Balance balance(String accountId) {
        return tx.run(sql -> DailyCredit.balance(sql, AccountRow.read(sql, accountId, false), config, now()));
    }

    /** Reservations still pending (credit held by calls in flight or awaiting their receipt). */
    public long openReservations() {
        return tx.run(sql -> sql.number("SELECT COUNT(*) FROM reservations WHERE state = 'pending'"));
    }

    /**
     * Holds {@code amount} µUSD of today's credit for a job, atomically: refused with
     * RESOURCE_EXHAUSTED (and nothing held) when the account's or the key's remaining credit is
     * smaller. Retrying with the same id and the same account, key and amount returns the existing
     * reservation; the same id with anything different is ALREADY_EXISTS, naming what differs.
     */
    public Reservation reserve(String reservationId, String accountId, String keyId, long amount) {
        if (amount < 0) {
            throw new GatewayException(Kind.INVALID_ARGUMENT, "reservation amount must be >= 0 µUSD, got " + amount);
        }
        if (reservationId == null || reservationId.isEmpty() || reservationId.length() > 64) {
            throw new GatewayException(Kind.INVALID_ARGUMENT, "reservation id must be 1..64 characters");
        }
        return tx.run(sql -> reserve(sql, reservationId, accountId, keyId, amount));
    }

    /** As {@link #reserve(String, String, String, long)}, inside the caller's transaction (a call's first job record). */
    Reservation reserve(Sql sql, String reservationId, String accountId, String keyId, long amount) throws SQLException {
        AccountRow row = AccountRow.lockAndMature(sql, accountId, now());
        Optional<Reservation> existing = find(sql, reservationId);
        if (existing.isPresent()) {
            return sameContent(existing.get(), accountId, keyId, amount);
        }
        long now = now();
        String day = UnixMicros.day(now);
        Headroom room = headroom(sql, row, keyId, day, now);
        room.require(amount, "this call");
        if (keyId != null) {
            DailyCredit.add(sql, Counter.KEY, keyId, day, 0, amount);
        }
        DailyCredit.add(sql, Counter.ACCOUNT, accountId, day, 0, amount);
        long expires = now + config.reservationTtl().toNanos() / 1000;
        sql.update("INSERT INTO reservations (reservation_id, account_id, key_id, utc_day, amount, state, created_at, expires_at) "
                + "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", reservationId, accountId, keyId, day, amount, State.PENDING.column(), now,
                expires);
        return new Reservation(reservationId, accountId, keyId, amount, State.PENDING, UnixMicros.instant(expires),
                DailyCredit.balance(sql, row, config, now));
    }

    /**
     * Turns a pending reservation into the job's charge ({@code min(cost, reserved)}) and writes its
     * usage record; {@code nodePaid} false keeps the charge out of the node's payout (an implausible
     * or missing receipt). Idempotent: posting the same reservation again returns the first result.
     * The charge settles in the epoch of its day, or of the first later day still open when its day is
     * already closed, so a closed epoch never changes.
     */
    public Charge post(String reservationId, UsageRecord usage, boolean nodePaid) {
        return tx.run(sql -> post(sql, reservationId, usage, nodePaid));
    }

    /**
     * As {@link #post(String, UsageRecord, boolean)}, inside the caller's transaction (receipt booking
     * posts a batch's charges, job states and acknowledgement together). Its refusals (NOT_FOUND,
     * FAILED_PRECONDITION) come before any write, so a caller may catch them and go on.
     */
    public Charge post(Sql sql, String reservationId, UsageRecord usage, boolean nodePaid) throws SQLException {
        Reservation r = find(sql, reservationId)
                .orElseThrow(() -> new GatewayException(Kind.NOT_FOUND, "no reservation '" + reservationId + "'"));
        AccountRow row = AccountRow.lockAndMature(sql, r.accountId(), now());
        Locked locked = lock(sql, reservationId);
        if (locked.state() == State.POSTED) {
            return new Charge(reservationId, locked.amount(), locked.posted(), true, DailyCredit.balance(sql, row, config, now()));
        }
        if (locked.state() != State.PENDING) {
            throw new GatewayException(Kind.FAILED_PRECONDITION, "reservation " + reservationId + " is "
                    + locked.state().column() + "; only a pending reservation can be charged");
        }
        long charge = Math.min(Math.max(0, usage.cost()), locked.amount());
        long now = now();
        DailyCredit.add(sql, Counter.ACCOUNT, r.accountId(), locked.day(), charge, -locked.amount());
        if (r.keyId() != null) {
            DailyCredit.add(sql, Counter.KEY, r.keyId(), locked.day(), charge, -locked.amount());
        }
        settle(sql, reservationId, State.POSTED, charge, now);
        // The charge's own day, or the next day still open when that one closed already (Epochs).
        String epoch = Epochs.openEpochFrom(sql, locked.day());
        UsageLog.insert(sql, usage, r.accountId(), r.keyId(), charge, locked.day(), now, epoch, nodePaid);
        Operations.record(sql, "charge:" + reservationId, r.accountId(), "charge", charge, usage.jobId(), now);
        return new Charge(reservationId, locked.amount(), charge, false, DailyCredit.balance(sql, row, config, now));
    }

    /** Releases a pending reservation without charging anything. */
    public void release(String reservationId) {
        tx.run(sql -> {
            Reservation r = find(sql, reservationId)
                    .orElseThrow(() -> new GatewayException(Kind.NOT_FOUND, "no reservation '" + reservationId + "'"));
            AccountRow.lockAndMature(sql, r.accountId(), now());
            return voidPending(sql, reservationId, State.VOIDED);
        });
    }

    /** Expires every pending reservation past its TTL; returns how many. */
    public int expireReservations() {
        List<String> due = tx.run(sql -> sql.list("SELECT reservation_id FROM reservations WHERE state = 'pending' AND expires_at <= ? "
                + "ORDER BY expires_at LIMIT 1000", rs -> rs.getString(1), now()));
        int expired = 0;
        for (String id : due) {
            boolean done = tx.run(sql -> {
                Reservation r = find(sql, id).orElseThrow();
                AccountRow.lockAndMature(sql, r.accountId(), now());
                return voidPending(sql, id, State.EXPIRED);
            });
            if (done) {
                expired++;
            }
        }
        return expired;
    }

    public Optional<Reservation> reservation(String reservationId) {
        return tx.run(sql -> find(sql, reservationId));
    }

    /** The account's balance and, read in the same transaction, one of its reservations (a call's end reads both). */
    public BalanceWithReservation balanceWith(String accountId, String reservationId) {
        return tx.run(sql -> balanceWith(sql, accountId, reservationId));
    }

    BalanceWithReservation balanceWith(Sql sql, String accountId, String reservationId) throws SQLException {
        return new BalanceWithReservation(DailyCredit.balance(sql, AccountRow.read(sql, accountId, false), config, now()),
                find(sql, reservationId));
    }

    /** A balance and a reservation read together. */
    public record BalanceWithReservation(Balance balance, Optional<Reservation> reservation) {}

    /**
     * What the account (and the key, when it has a daily limit) can still take on {@code day}, the
     * account's row locked by the caller; makes the day's counter rows exist.
     *
     * @param keyRemaining {@code Long.MAX_VALUE} when there is no key or it has no limit
     */
    record Headroom(Balance balance, String keyId, long keyLimit, long keyRemaining) {

        long available() {
            return Math.min(balance.remaining(), keyRemaining);
        }

        /** Refuses (RESOURCE_EXHAUSTED, with the figures) when {@code amount} does not fit. */
        void require(long amount, String what) {
            if (amount > balance.remaining()) {
                throw new GatewayException(Kind.RESOURCE_EXHAUSTED, "not enough credit: " + what + " may cost up to "
                        + amount + " µUSD and " + balance.remaining() + " µUSD remain today (allowance "
                        + balance.allowance() + ", spent " + balance.spent() + ", reserved " + balance.reserved() + ")");
            }
            if (amount > keyRemaining) {
                throw new GatewayException(Kind.RESOURCE_EXHAUSTED, "key " + keyId + " daily limit: " + what + " may cost up to "
                        + amount + " µUSD and " + keyRemaining + " µUSD of the key's " + keyLimit + " µUSD remain today");
            }
        }
    }

    Headroom headroom(Sql sql, AccountRow row, String keyId, String day, long now) throws SQLException {
        DailyCredit.ensure(sql, Counter.ACCOUNT, row.id, day);
        Balance balance = DailyCredit.balance(sql, row, config, now);
        long limit = 0;
        long keyRemaining = Long.MAX_VALUE;
        if (keyId != null) {
            limit = ApiKeys.dailyLimit(sql, keyId);
            DailyCredit.ensure(sql, Counter.KEY, keyId, day);
            if (limit > 0) {
                DailyCredit.Used used = DailyCredit.used(sql, Counter.KEY, keyId, day, true);
                keyRemaining = Math.max(0, limit - used.spent() - used.reserved());
            }
        }
        return new Headroom(balance, keyId, limit, keyRemaining);
    }

    /** A retry of {@code existing}, or ALREADY_EXISTS when it holds different content (TigerBeetle's exists_with_different_*). */
    private static Reservation sameContent(Reservation existing, String accountId, String keyId, long amount) {
        String id = existing.reservationId();
        if (!existing.accountId().equals(accountId)) {
            throw new GatewayException(Kind.ALREADY_EXISTS, "reservation " + id + " exists with a different account ("
                    + existing.accountId() + ", not " + accountId + ")");
        }
        if (!java.util.Objects.equals(existing.keyId(), keyId)) {
            throw new GatewayException(Kind.ALREADY_EXISTS, "reservation " + id + " exists with a different key ("
                    + existing.keyId() + ", not " + keyId + ")");
        }
        if (existing.amount() != amount) {
            throw new GatewayException(Kind.ALREADY_EXISTS, "reservation " + id + " exists with a different amount ("
                    + existing.amount() + " µUSD, not " + amount + ")");
        }
        return existing;
    }

    /** The reservation row locked for a state change. */
    private record Locked(String accountId, String keyId, String day, long amount, State state, long posted) {}

    private static Locked lock(Sql sql, String reservationId) throws SQLException {
        return sql.one("SELECT account_id, key_id, utc_day, amount, state, posted_amount FROM reservations WHERE reservation_id = ? "
                + "FOR UPDATE", rs -> new Locked(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4),
                        State.ofColumn(rs.getString(5)), rs.getLong(6)), reservationId).orElseThrow();
    }

    private boolean voidPending(Sql sql, String reservationId, State to) throws SQLException {
        Locked r = lock(sql, reservationId);
        if (r.state() != State.PENDING) {
            return false;
        }
        DailyCredit.add(sql, Counter.ACCOUNT, r.accountId(), r.day(), 0, -r.amount());
        if (r.keyId() != null) {
            DailyCredit.add(sql, Counter.KEY, r.keyId(), r.day(), 0, -r.amount());
        }
        settle(sql, reservationId, to, 0, now());
        return true;
    }

    /** Moves a locked pending reservation to its final state. */
    private static void settle(Sql sql, String reservationId, State to, long posted, long now) throws SQLException {
        if (!State.PENDING.canBecome(to)) {
            throw new IllegalStateException("reservation " + reservationId + " cannot become " + to);
        }
        sql.update("UPDATE reservations SET state = ?, posted_amount = ?, settled_at = ? WHERE reservation_id = ? AND state = 'pending'",
                to.column(), posted, now, reservationId);
    }

    private static Optional<Reservation> find(Sql sql, String reservationId) throws SQLException {
        return sql.one("SELECT account_id, key_id, amount, state, expires_at FROM reservations WHERE reservation_id = ?",
                rs -> new Reservation(reservationId, rs.getString(1), rs.getString(2), rs.getLong(3), State.ofColumn(rs.getString(4)),
                        UnixMicros.instant(rs.getLong(5)), null), reservationId);
    }
}
