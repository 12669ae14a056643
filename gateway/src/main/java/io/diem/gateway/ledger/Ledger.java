package io.diem.gateway.ledger;

import io.diem.gateway.ledger.LedgerException.Kind;
import io.diem.gateway.ledger.LedgerViews.Account;
import io.diem.gateway.ledger.LedgerViews.ApiKey;
import io.diem.gateway.ledger.LedgerViews.Balance;
import io.diem.gateway.ledger.LedgerViews.Charge;
import io.diem.gateway.ledger.LedgerViews.CreatedKey;
import io.diem.gateway.ledger.LedgerViews.MintQuote;
import io.diem.gateway.ledger.LedgerViews.Reservation;
import io.diem.gateway.ledger.LedgerViews.Scope;
import io.diem.gateway.ledger.LedgerViews.UsageRecord;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The money side of the gateway, on one JDBC database (H2 or PostgreSQL). Every public operation is
 * one transaction; an account's row is locked ({@code SELECT … FOR UPDATE}) before anything that
 * depends on its balances, so gateways sharing a PostgreSQL ledger serialise per account and no
 * account is ever reserved or charged beyond its allowance. Amounts are integer micro-units.
 *
 * <p>Cooldowns: an unstake adds to the pending amount and restarts its cooldown. Pending DIEM returns
 * to the liquid balance by itself once its cooldown ends (applied whenever the account is touched);
 * pending VVV waits for an explicit withdraw.
 */
public final class Ledger {

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final HexFormat HEX = HexFormat.of();
    /** Retries of a transaction that lost a serialisation race or deadlock (PostgreSQL). */
    private static final int RETRIES = 5;

    private final Database db;
    private final LedgerConfig config;
    private final Clock clock;
    /** Told the duration of every transaction (for the ledger-latency metric); a no-op by default. */
    private volatile java.util.function.LongConsumer transactionNanos = n -> {};

    public Ledger(Database db, LedgerConfig config, Clock clock) {
        this.db = db;
        this.config = config;
        this.clock = clock;
    }

    public LedgerConfig config() {
        return config;
    }

    /** Reports every transaction's duration (ns) to {@code listener}. */
    public void onTransaction(java.util.function.LongConsumer listener) {
        this.transactionNanos = listener;
    }

    /** Reservations still pending (credit held by calls in flight or awaiting their receipt). */
    public long openReservations() {
        return tx(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT COUNT(*) FROM reservations WHERE state = 'pending'");
                    ResultSet rs = s.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        });
    }

    // ------------------------------------------------------------------ transactions

    /** A unit of work on one connection; {@link #tx} commits it, or rolls it back on any exception. */
    @FunctionalInterface
    public interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    /** Runs {@code work} as one transaction (retried on serialisation failures), for the gateway's other stores. */
    public <T> T tx(Work<T> work) {
        long start = System.nanoTime();
        try {
            return transaction(work);
        } finally {
            transactionNanos.accept(System.nanoTime() - start);
        }
    }

    private <T> T transaction(Work<T> work) {
        for (int attempt = 1; ; attempt++) {
            try (Connection c = db.connection()) {
                try {
                    T result = work.run(c);
                    c.commit();
                    return result;
                } catch (SQLException | RuntimeException e) {
                    c.rollback();
                    throw e;
                }
            } catch (SQLException e) {
                String state = e.getSQLState();
                boolean retryable = "40001".equals(state) || "40P01".equals(state) || "23505".equals(state);
                if (retryable && attempt < RETRIES) {
                    continue;
                }
                throw new LedgerException(Kind.UNAVAILABLE, "ledger database error: " + e.getMessage(), e);
            }
        }
    }

    public long now() {
        Instant i = clock.instant();
        return i.getEpochSecond() * 1_000_000L + i.getNano() / 1000;
    }

    public static String day(long micros) {
        return LocalDate.ofEpochDay(Math.floorDiv(micros, 86_400_000_000L)).toString();
    }

    public static Instant instant(long micros) {
        return micros == 0 ? null : Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000);
    }

    private static long positive(long amount, String what) {
        if (amount <= 0) {
            throw new LedgerException(Kind.INVALID_ARGUMENT, what + " must be > 0 micro-units, got " + amount);
        }
        return amount;
    }

    // ------------------------------------------------------------------ accounts

    public Account createAccount(String name) {
        String trimmed = name == null ? "" : name.strip();
        if (trimmed.isEmpty() || trimmed.length() > 64) {
            throw new LedgerException(Kind.INVALID_ARGUMENT, "account name must be 1..64 characters, got " + trimmed.length());
        }
        String id = "acct_" + randomHex(12);
        return tx(c -> {
            long now = now();
            try (PreparedStatement s = c.prepareStatement("INSERT INTO accounts (account_id, name, created_at) VALUES (?, ?, ?)")) {
                s.setString(1, id);
                s.setString(2, trimmed);
                s.setLong(3, now);
                s.executeUpdate();
            }
            record(c, "create:" + id, id, "create", 0, trimmed, now);
            return load(c, id);
        });
    }

    public Account account(String accountId) {
        return tx(c -> account(c, lockAndMature(c, accountId)));
    }

    /** Accounts ordered by id, after {@code afterId} (empty for the first page). */
    public List<Account> accounts(int limit, String afterId) {
        return tx(c -> {
            List<Account> out = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("SELECT " + ROW_COLUMNS
                    + " FROM accounts WHERE account_id > ? ORDER BY account_id LIMIT ?")) {
                s.setString(1, afterId == null ? "" : afterId);
                s.setInt(2, limit);
                try (ResultSet rs = s.executeQuery()) {
                    while (rs.next()) {
                        out.add(account(c, row(rs)));
                    }
                }
            }
            return out;
        });
    }

    /** Credits liquid VVV (a deposit from outside the ledger). */
    public Account depositVvv(String accountId, long amount) {
        positive(amount, "deposit");
        return mutate(accountId, "deposit_vvv", amount, (c, a) -> a.vvv = Math.addExact(a.vvv, amount));
    }

    public Account stakeVvv(String accountId, long amount) {
        positive(amount, "VVV to stake");
        return mutate(accountId, "stake_vvv", amount, (c, a) -> {
            need(a.vvv, amount, "liquid VVV", accountId);
            a.vvv -= amount;
            a.svvv += amount;
        });
    }

    public Account unstakeVvv(String accountId, long amount) {
        positive(amount, "VVV to unstake");
        return mutate(accountId, "unstake_vvv", amount, (c, a) -> {
            need(a.svvv, amount, "unlocked sVVV (locked sVVV backs minted DIEM)", accountId);
            a.svvv -= amount;
            a.vvvUnstaking += amount;
            a.vvvUnstakingUntil = now() + config.vvvCooldown().toNanos() / 1000;
        });
    }

    public Account withdrawVvv(String accountId) {
        return mutate(accountId, "withdraw_vvv", 0, (c, a) -> {
            if (a.vvvUnstaking == 0) {
                throw new LedgerException(Kind.FAILED_PRECONDITION, "account " + accountId + " has no VVV unstaking");
            }
            if (now() < a.vvvUnstakingUntil) {
                throw new LedgerException(Kind.FAILED_PRECONDITION, Units.format(a.vvvUnstaking) + " VVV is in cooldown until "
                        + instant(a.vvvUnstakingUntil));
            }
            a.vvv += a.vvvUnstaking;
            a.vvvUnstaking = 0;
            a.vvvUnstakingUntil = 0;
        });
    }

    public MintQuote quoteMint(long amount) {
        positive(amount, "DIEM to mint");
        return tx(c -> quote(supply(c, false), amount));
    }

    private MintQuote quote(long supply, long amount) {
        MintCurve curve = config.curve();
        if (!curve.fits(supply, amount)) {
            throw new LedgerException(Kind.FAILED_PRECONDITION, "minting " + Units.format(amount) + " DIEM at a supply of "
                    + Units.format(supply) + " would reach the supply asymptote of " + Units.format(curve.asymptoteMicro())
                    + " DIEM");
        }
        long cost = curve.costMicro(supply, amount);
        long average = (long) Math.ceil(cost / (amount / Units.MICRO));
        long marginal = (long) Math.ceil(curve.rate(supply + amount) * Units.MICRO);
        return new MintQuote(amount, cost, average, marginal, supply, supply + amount);
    }

    /** Mints along the curve, locking the cost in sVVV; refuses when the cost exceeds {@code maxCost} (0 = no cap). */
    public MintQuote mint(String accountId, long amount, long maxCost) {
        positive(amount, "DIEM to mint");
        MintQuote[] quote = new MintQuote[1];
        mutate(accountId, "mint_diem", amount, (c, a) -> {
            long supply = supply(c, true); // locks the supply row: mints are serialised, so the price is exact
            MintQuote q = quote(supply, amount);
            if (maxCost > 0 && q.svvvCost() > maxCost) {
                throw new LedgerException(Kind.FAILED_PRECONDITION, "minting " + Units.format(amount) + " DIEM costs "
                        + Units.format(q.svvvCost()) + " sVVV, above the limit of " + Units.format(maxCost));
            }
            need(a.svvv, q.svvvCost(), "unlocked sVVV for this mint", accountId);
            a.svvv -= q.svvvCost();
            a.svvvLocked += q.svvvCost();
            a.diem += amount;
            a.diemMinted += amount;
            setSupply(c, supply + amount);
            quote[0] = q;
        });
        return quote[0];
    }

    /** Burns liquid DIEM and unlocks {@code locked × amount / minted} sVVV (all of it on the last burn). */
    public Account burn(String accountId, long amount) {
        positive(amount, "DIEM to burn");
        return mutate(accountId, "burn_diem", amount, (c, a) -> {
            need(a.diem, amount, "liquid DIEM", accountId);
            need(a.diemMinted, amount, "DIEM minted by this account", accountId);
            long supply = supply(c, true);
            long unlock = amount == a.diemMinted ? a.svvvLocked
                    : java.math.BigInteger.valueOf(a.svvvLocked).multiply(java.math.BigInteger.valueOf(amount))
                            .divide(java.math.BigInteger.valueOf(a.diemMinted)).longValueExact();
            a.svvvLocked -= unlock;
            a.svvv += unlock;
            a.diem -= amount;
            a.diemMinted -= amount;
            setSupply(c, supply - amount);
        });
    }

    public Account stakeDiem(String accountId, long amount) {
        positive(amount, "DIEM to stake");
        return mutate(accountId, "stake_diem", amount, (c, a) -> {
            need(a.diem, amount, "liquid DIEM", accountId);
            a.diem -= amount;
            a.diemStaked += amount;
        });
    }

    /** Credit from the unstaked DIEM stops now; the tokens return after the cooldown. */
    public Account unstakeDiem(String accountId, long amount) {
        positive(amount, "DIEM to unstake");
        return mutate(accountId, "unstake_diem", amount, (c, a) -> {
            need(a.diemStaked, amount, "staked DIEM", accountId);
            a.diemStaked -= amount;
            a.diemUnstaking += amount;
            a.diemUnstakingUntil = now() + config.diemCooldown().toNanos() / 1000;
        });
    }

    private static void need(long have, long amount, String what, String accountId) {
        if (have < amount) {
            throw new LedgerException(Kind.FAILED_PRECONDITION, "account " + accountId + " has " + Units.format(have)
                    + " " + what + ", needs " + Units.format(amount));
        }
    }

    // ------------------------------------------------------------------ account rows

    /** The mutable balances of one locked account row. */
    static final class Row {
        String id;
        String name;
        long createdAt;
        long vvv, svvv, svvvLocked, vvvUnstaking, vvvUnstakingUntil, diem, diemStaked, diemUnstaking,
                diemUnstakingUntil, diemMinted;
    }

    @FunctionalInterface
    private interface Mutation {
        void apply(Connection c, Row row) throws SQLException;
    }

    private Account mutate(String accountId, String kind, long amount, Mutation mutation) {
        return tx(c -> {
            Row row = lockAndMature(c, accountId);
            mutation.apply(c, row);
            store(c, row);
            record(c, kind + ":" + randomHex(8), accountId, kind, amount, "", now());
            return account(c, row);
        });
    }

    /** Locks the account row and returns matured DIEM (cooldown over) to the liquid balance. */
    private Row lockAndMature(Connection c, String accountId) throws SQLException {
        Row row = read(c, accountId, true);
        if (row.diemUnstaking > 0 && now() >= row.diemUnstakingUntil) {
            row.diem += row.diemUnstaking;
            row.diemUnstaking = 0;
            row.diemUnstakingUntil = 0;
            store(c, row);
        }
        return row;
    }

    private static final String ROW_COLUMNS = "account_id, vvv, svvv, svvv_locked, vvv_unstaking, vvv_unstaking_until, "
            + "diem, diem_staked, diem_unstaking, diem_unstaking_until, diem_minted, name, created_at";

    private Row read(Connection c, String accountId, boolean lock) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT " + ROW_COLUMNS + " FROM accounts WHERE account_id = ?"
                + (lock ? " FOR UPDATE" : ""))) {
            s.setString(1, accountId == null ? "" : accountId);
            try (ResultSet rs = s.executeQuery()) {
                if (!rs.next()) {
                    throw new LedgerException(Kind.NOT_FOUND, "no account '" + accountId + "'");
                }
                return row(rs);
            }
        }
    }

    /** The current result row, selected as {@link #ROW_COLUMNS}. */
    private static Row row(ResultSet rs) throws SQLException {
        Row r = new Row();
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

    private static void store(Connection c, Row r) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("UPDATE accounts SET vvv = ?, svvv = ?, svvv_locked = ?, vvv_unstaking = ?, "
                + "vvv_unstaking_until = ?, diem = ?, diem_staked = ?, diem_unstaking = ?, diem_unstaking_until = ?, "
                + "diem_minted = ? WHERE account_id = ?")) {
            s.setLong(1, r.vvv);
            s.setLong(2, r.svvv);
            s.setLong(3, r.svvvLocked);
            s.setLong(4, r.vvvUnstaking);
            s.setLong(5, r.vvvUnstakingUntil);
            s.setLong(6, r.diem);
            s.setLong(7, r.diemStaked);
            s.setLong(8, r.diemUnstaking);
            s.setLong(9, r.diemUnstakingUntil);
            s.setLong(10, r.diemMinted);
            s.setString(11, r.id);
            s.executeUpdate();
        }
    }

    private Account load(Connection c, String accountId) throws SQLException {
        return account(c, read(c, accountId, false));
    }

    /** The account as its row now stands (read or just stored in this transaction). */
    private Account account(Connection c, Row r) throws SQLException {
        return new Account(r.id, r.name, instant(r.createdAt), r.vvv, r.svvv, r.svvvLocked, r.vvvUnstaking,
                instant(r.vvvUnstakingUntil), r.diem, r.diemStaked, r.diemUnstaking, instant(r.diemUnstakingUntil),
                r.diemMinted, balance(c, r, now()));
    }

    private long supply(Connection c, boolean lock) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT diem_supply FROM ledger_state WHERE id = 1" + (lock ? " FOR UPDATE" : ""));
                ResultSet rs = s.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static void setSupply(Connection c, long supply) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("UPDATE ledger_state SET diem_supply = ? WHERE id = 1")) {
            s.setLong(1, supply);
            s.executeUpdate();
        }
    }

    public long diemSupply() {
        return tx(c -> supply(c, false));
    }

    private static void record(Connection c, String opId, String accountId, String kind, long amount, String detail, long now)
            throws SQLException {
        try (PreparedStatement s = c.prepareStatement(
                "INSERT INTO operations (op_id, account_id, kind, amount, detail, created_at) VALUES (?, ?, ?, ?, ?, ?)")) {
            s.setString(1, opId);
            s.setString(2, accountId);
            s.setString(3, kind);
            s.setLong(4, amount);
            s.setString(5, detail.length() > 256 ? detail.substring(0, 256) : detail);
            s.setLong(6, now);
            s.executeUpdate();
        }
    }

    // ------------------------------------------------------------------ credit

    /** Today's allowance: staked DIEM × $1 (1 µDIEM staked = 1 µUSD per day), nothing below the minimum stake. */
    long allowance(Row r) {
        return r.diemStaked >= config.minStakeMicro() ? r.diemStaked : 0;
    }

    public Balance balance(String accountId) {
        return tx(c -> balance(c, lockAndMature(c, accountId), now()));
    }

    private Balance balance(Connection c, Row r, long now) throws SQLException {
        String day = day(now);
        long spent = 0;
        long reserved = 0;
        try (PreparedStatement s = c.prepareStatement("SELECT spent, reserved FROM account_days WHERE account_id = ? AND utc_day = ?")) {
            s.setString(1, r.id);
            s.setString(2, day);
            try (ResultSet rs = s.executeQuery()) {
                if (rs.next()) {
                    spent = rs.getLong(1);
                    reserved = rs.getLong(2);
                }
            }
        }
        long allowance = allowance(r);
        Instant resetsAt = LocalDate.parse(day).plusDays(1).atStartOfDay().toInstant(ZoneOffset.UTC);
        return new Balance(r.id, allowance, spent, reserved, Math.max(0, allowance - spent - reserved), resetsAt);
    }

    /**
     * Holds {@code amount} µUSD of today's credit for a job, atomically: refused with
     * RESOURCE_EXHAUSTED (and nothing held) when the account's or the key's remaining credit is
     * smaller. Retrying with the same id returns the existing reservation.
     */
    public Reservation reserve(String reservationId, String accountId, String keyId, long amount) {
        if (amount < 0) {
            throw new LedgerException(Kind.INVALID_ARGUMENT, "reservation amount must be >= 0 µUSD, got " + amount);
        }
        if (reservationId == null || reservationId.isEmpty() || reservationId.length() > 64) {
            throw new LedgerException(Kind.INVALID_ARGUMENT, "reservation id must be 1..64 characters");
        }
        return tx(c -> {
            Row row = lockAndMature(c, accountId);
            Reservation existing = reservation(c, reservationId);
            if (existing != null) {
                return existing;
            }
            long now = now();
            String day = day(now);
            ensureDay(c, "account_days", "account_id", accountId, day);
            Balance before = balance(c, row, now);
            if (amount > before.remaining()) {
                throw new LedgerException(Kind.RESOURCE_EXHAUSTED, "not enough credit: this call may cost up to "
                        + amount + " µUSD and " + before.remaining() + " µUSD remain today (allowance "
                        + before.allowance() + ", spent " + before.spent() + ", reserved " + before.reserved() + ")");
            }
            if (keyId != null) {
                long limit = keyLimit(c, keyId);
                if (limit > 0) {
                    ensureDay(c, "key_days", "key_id", keyId, day);
                    long[] used = dayUsage(c, "key_days", "key_id", keyId, day, true);
                    long keyRemaining = Math.max(0, limit - used[0] - used[1]);
                    if (amount > keyRemaining) {
                        throw new LedgerException(Kind.RESOURCE_EXHAUSTED, "key " + keyId + " daily limit: this call may cost up to "
                                + amount + " µUSD and " + keyRemaining + " µUSD of the key's " + limit + " µUSD remain today");
                    }
                }
                ensureDay(c, "key_days", "key_id", keyId, day);
                addDay(c, "key_days", "key_id", keyId, day, 0, amount);
            }
            addDay(c, "account_days", "account_id", accountId, day, 0, amount);
            long expires = now + config.reservationTtl().toNanos() / 1000;
            try (PreparedStatement s = c.prepareStatement("INSERT INTO reservations (reservation_id, account_id, key_id, utc_day, amount, "
                    + "state, created_at, expires_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)")) {
                s.setString(1, reservationId);
                s.setString(2, accountId);
                if (keyId == null) {
                    s.setNull(3, Types.VARCHAR);
                } else {
                    s.setString(3, keyId);
                }
                s.setString(4, day);
                s.setLong(5, amount);
                s.setLong(6, now);
                s.setLong(7, expires);
                s.executeUpdate();
            }
            return new Reservation(reservationId, accountId, keyId, amount, "pending", instant(expires), balance(c, row, now));
        });
    }

    /**
     * Turns a pending reservation into the job's charge ({@code min(cost, reserved)}) and writes its
     * usage record. Idempotent: posting the same reservation again returns the first result.
     */
    public Charge post(String reservationId, UsageRecord usage) {
        return post(reservationId, usage, true);
    }

    /**
     * As {@link #post(String, UsageRecord)}; {@code nodePaid} false keeps the charge out of the node's
     * payout (an implausible or missing receipt). The charge settles in the epoch of its day, or of
     * the booking day when its day is already closed, so a closed epoch never changes.
     */
    public Charge post(String reservationId, UsageRecord usage, boolean nodePaid) {
        return tx(c -> {
            Reservation r = reservation(c, reservationId);
            if (r == null) {
                throw new LedgerException(Kind.NOT_FOUND, "no reservation '" + reservationId + "'");
            }
            Row row = lockAndMature(c, r.accountId());
            String day;
            long amount;
            String state;
            long posted;
            try (PreparedStatement s = c.prepareStatement(
                    "SELECT utc_day, amount, state, posted_amount FROM reservations WHERE reservation_id = ? FOR UPDATE")) {
                s.setString(1, reservationId);
                try (ResultSet rs = s.executeQuery()) {
                    rs.next();
                    day = rs.getString(1);
                    amount = rs.getLong(2);
                    state = rs.getString(3);
                    posted = rs.getLong(4);
                }
            }
            if (state.equals("posted")) {
                return new Charge(reservationId, amount, posted, true, balance(c, row, now()));
            }
            if (!state.equals("pending")) {
                throw new LedgerException(Kind.FAILED_PRECONDITION, "reservation " + reservationId + " is " + state
                        + "; only a pending reservation can be charged");
            }
            long charge = Math.min(Math.max(0, usage.cost()), amount);
            long now = now();
            addDay(c, "account_days", "account_id", r.accountId(), day, charge, -amount);
            if (r.keyId() != null) {
                addDay(c, "key_days", "key_id", r.keyId(), day, charge, -amount);
            }
            try (PreparedStatement s = c.prepareStatement("UPDATE reservations SET state = 'posted', posted_amount = ?, settled_at = ? "
                    + "WHERE reservation_id = ?")) {
                s.setLong(1, charge);
                s.setLong(2, now);
                s.setString(3, reservationId);
                s.executeUpdate();
            }
            try (PreparedStatement s = c.prepareStatement("INSERT INTO usage_records (job_id, account_id, key_id, model, node_id, "
                    + "prompt_tokens, completion_tokens, gpu_micros, compute_kind, cost, finish_reason, utc_day, booked_at, "
                    + "epoch, node_paid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                s.setString(1, usage.jobId());
                s.setString(2, r.accountId());
                if (r.keyId() == null) {
                    s.setNull(3, Types.VARCHAR);
                } else {
                    s.setString(3, r.keyId());
                }
                s.setString(4, usage.model());
                s.setString(5, usage.nodeId());
                s.setLong(6, usage.promptTokens());
                s.setLong(7, usage.completionTokens());
                s.setLong(8, usage.gpuMicros());
                s.setString(9, usage.computeKind());
                s.setLong(10, charge);
                s.setString(11, usage.finishReason());
                s.setString(12, day);
                s.setLong(13, now);
                s.setString(14, epochClosed(c, day) ? day(now) : day);
                s.setBoolean(15, nodePaid);
                s.executeUpdate();
            }
            record(c, "charge:" + reservationId, r.accountId(), "charge", charge, usage.jobId(), now);
            return new Charge(reservationId, amount, charge, false, balance(c, row, now));
        });
    }

    static boolean epochClosed(Connection c, String day) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT 1 FROM epochs WHERE epoch = ?")) {
            s.setString(1, day);
            try (ResultSet rs = s.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** Releases a pending reservation without charging anything. */
    public void release(String reservationId) {
        tx(c -> {
            Reservation r = reservation(c, reservationId);
            if (r == null) {
                throw new LedgerException(Kind.NOT_FOUND, "no reservation '" + reservationId + "'");
            }
            lockAndMature(c, r.accountId());
            voidPending(c, reservationId, "voided");
            return null;
        });
    }

    /** Expires every pending reservation past its TTL; returns how many. */
    public int expireReservations() {
        List<String> due = tx(c -> {
            List<String> ids = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement(
                    "SELECT reservation_id FROM reservations WHERE state = 'pending' AND expires_at <= ? ORDER BY expires_at LIMIT 1000")) {
                s.setLong(1, now());
                try (ResultSet rs = s.executeQuery()) {
                    while (rs.next()) {
                        ids.add(rs.getString(1));
                    }
                }
            }
            return ids;
        });
        int expired = 0;
        for (String id : due) {
            boolean done = tx(c -> {
                Reservation r = reservation(c, id);
                lockAndMature(c, r.accountId());
                return voidPending(c, id, "expired");
            });
            if (done) {
                expired++;
            }
        }
        return expired;
    }

    private boolean voidPending(Connection c, String reservationId, String newState) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(
                "SELECT account_id, key_id, utc_day, amount, state FROM reservations WHERE reservation_id = ? FOR UPDATE")) {
            s.setString(1, reservationId);
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                if (!rs.getString(5).equals("pending")) {
                    return false;
                }
                String account = rs.getString(1);
                String key = rs.getString(2);
                String day = rs.getString(3);
                long amount = rs.getLong(4);
                addDay(c, "account_days", "account_id", account, day, 0, -amount);
                if (key != null) {
                    addDay(c, "key_days", "key_id", key, day, 0, -amount);
                }
            }
        }
        try (PreparedStatement s = c.prepareStatement("UPDATE reservations SET state = ?, settled_at = ? WHERE reservation_id = ?")) {
            s.setString(1, newState);
            s.setLong(2, now());
            s.setString(3, reservationId);
            s.executeUpdate();
        }
        return true;
    }

    public Optional<Reservation> reservation(String reservationId) {
        return Optional.ofNullable(tx(c -> reservation(c, reservationId)));
    }

    private Reservation reservation(Connection c, String reservationId) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT account_id, key_id, amount, state, expires_at FROM reservations "
                + "WHERE reservation_id = ?")) {
            s.setString(1, reservationId);
            try (ResultSet rs = s.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                return new Reservation(reservationId, rs.getString(1), rs.getString(2), rs.getLong(3), rs.getString(4),
                        instant(rs.getLong(5)), null);
            }
        }
    }

    private static void ensureDay(Connection c, String table, String keyColumn, String key, String day) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("INSERT INTO " + table + " (" + keyColumn + ", utc_day) VALUES (?, ?) "
                + "ON CONFLICT DO NOTHING")) {
            s.setString(1, key);
            s.setString(2, day);
            s.executeUpdate();
        }
    }

    private static long[] dayUsage(Connection c, String table, String keyColumn, String key, String day, boolean lock)
            throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT spent, reserved FROM " + table + " WHERE " + keyColumn
                + " = ? AND utc_day = ?" + (lock ? " FOR UPDATE" : ""))) {
            s.setString(1, key);
            s.setString(2, day);
            try (ResultSet rs = s.executeQuery()) {
                return rs.next() ? new long[] {rs.getLong(1), rs.getLong(2)} : new long[] {0, 0};
            }
        }
    }

    private static void addDay(Connection c, String table, String keyColumn, String key, String day, long spent, long reserved)
            throws SQLException {
        try (PreparedStatement s = c.prepareStatement("UPDATE " + table + " SET spent = spent + ?, reserved = reserved + ? WHERE "
                + keyColumn + " = ? AND utc_day = ?")) {
            s.setLong(1, spent);
            s.setLong(2, reserved);
            s.setString(3, key);
            s.setString(4, day);
            if (s.executeUpdate() != 1) {
                throw new IllegalStateException(table + " row for " + key + " on " + day + " is missing");
            }
        }
    }

    // ------------------------------------------------------------------ keys

    /** A new key; its secret is returned here once and stored only as a SHA-256 hash. */
    public CreatedKey createKey(String accountId, Scope scope, long dailyLimit, String label) {
        if (dailyLimit < 0) {
            throw new LedgerException(Kind.INVALID_ARGUMENT, "daily limit must be >= 0 µUSD, got " + dailyLimit);
        }
        String safeLabel = label == null ? "" : label.strip();
        if (safeLabel.length() > 128) {
            throw new LedgerException(Kind.INVALID_ARGUMENT, "key label must be at most 128 characters");
        }
        byte[] secretBytes = new byte[32];
        RANDOM.nextBytes(secretBytes);
        String secret = "diem_" + Base64.getUrlEncoder().withoutPadding().encodeToString(secretBytes);
        String hash = hash(secret);
        String keyId = "key_" + hash.substring(0, 16);
        return tx(c -> {
            read(c, accountId, true);
            long now = now();
            try (PreparedStatement s = c.prepareStatement("INSERT INTO api_keys (key_id, secret_sha256, account_id, scope, daily_limit, "
                    + "label, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
                s.setString(1, keyId);
                s.setString(2, hash);
                s.setString(3, accountId);
                s.setString(4, scope.name().toLowerCase(Locale.ROOT));
                s.setLong(5, dailyLimit);
                s.setString(6, safeLabel);
                s.setLong(7, now);
                s.executeUpdate();
            }
            record(c, "key:" + keyId, accountId, "create_key", 0, scope.name(), now);
            return new CreatedKey(key(c, keyId), secret);
        });
    }

    public List<ApiKey> keys(String accountId) {
        return tx(c -> {
            List<ApiKey> out = new ArrayList<>();
            String sql = "SELECT key_id FROM api_keys" + (accountId == null || accountId.isEmpty() ? "" : " WHERE account_id = ?")
                    + " ORDER BY created_at, key_id";
            try (PreparedStatement s = c.prepareStatement(sql)) {
                if (accountId != null && !accountId.isEmpty()) {
                    s.setString(1, accountId);
                }
                List<String> ids = new ArrayList<>();
                try (ResultSet rs = s.executeQuery()) {
                    while (rs.next()) {
                        ids.add(rs.getString(1));
                    }
                }
                for (String id : ids) {
                    out.add(key(c, id));
                }
            }
            return out;
        });
    }

    public ApiKey revokeKey(String keyId) {
        return tx(c -> {
            ApiKey key = key(c, keyId);
            if (!key.revoked()) {
                try (PreparedStatement s = c.prepareStatement("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?")) {
                    s.setLong(1, now());
                    s.setString(2, keyId);
                    s.executeUpdate();
                }
                record(c, "revoke:" + keyId, key.accountId(), "revoke_key", 0, keyId, now());
            }
            return key(c, keyId);
        });
    }

    /**
     * The live key for a presented secret, or empty. Every input (malformed, unknown, revoked) takes
     * the same path: hash it, look the hash up, check revocation.
     */
    public Optional<ApiKey> authenticate(String secret) {
        String hash = hash(secret == null ? "" : secret);
        return tx(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT key_id, revoked_at FROM api_keys WHERE secret_sha256 = ?")) {
                s.setString(1, hash);
                try (ResultSet rs = s.executeQuery()) {
                    if (!rs.next()) {
                        return Optional.<ApiKey>empty();
                    }
                    rs.getLong(2);
                    if (!rs.wasNull()) {
                        return Optional.<ApiKey>empty();
                    }
                    return Optional.of(key(c, rs.getString(1)));
                }
            }
        });
    }

    public boolean hasKeys() {
        return tx(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT 1 FROM api_keys LIMIT 1"); ResultSet rs = s.executeQuery()) {
                return rs.next();
            }
        });
    }

    private static ApiKey key(Connection c, String keyId) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT account_id, scope, daily_limit, label, created_at, revoked_at "
                + "FROM api_keys WHERE key_id = ?")) {
            s.setString(1, keyId);
            try (ResultSet rs = s.executeQuery()) {
                if (!rs.next()) {
                    throw new LedgerException(Kind.NOT_FOUND, "no API key '" + keyId + "'");
                }
                long revoked = rs.getLong(6);
                Instant revokedAt = rs.wasNull() ? null : instant(revoked);
                return new ApiKey(keyId, rs.getString(1), Scope.valueOf(rs.getString(2).toUpperCase(Locale.ROOT)),
                        rs.getLong(3), rs.getString(4), instant(rs.getLong(5)), revokedAt);
            }
        }
    }

    private static long keyLimit(Connection c, String keyId) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT daily_limit FROM api_keys WHERE key_id = ?")) {
            s.setString(1, keyId);
            try (ResultSet rs = s.executeQuery()) {
                if (!rs.next()) {
                    throw new LedgerException(Kind.NOT_FOUND, "no API key '" + keyId + "'");
                }
                return rs.getLong(1);
            }
        }
    }

    static String hash(String secret) {
        return HEX.formatHex(io.diem.sign.Hashes.sha256(secret.getBytes(StandardCharsets.UTF_8)));
    }

    private static String randomHex(int bytes) {
        byte[] b = new byte[bytes];
        RANDOM.nextBytes(b);
        return HEX.formatHex(b);
    }

    // ------------------------------------------------------------------ prices and usage

    public Pricing setPrice(Pricing price) {
        if (price.model() == null || price.model().isBlank() || price.model().length() > 128) {
            throw new LedgerException(Kind.INVALID_ARGUMENT, "model name must be 1..128 characters");
        }
        return tx(c -> {
            long now = now();
            // UPDATE, else INSERT: portable between H2 and PostgreSQL; a racing INSERT fails with 23505 and tx() retries.
            int updated;
            try (PreparedStatement s = c.prepareStatement("UPDATE model_prices SET prompt_per_million = ?, completion_per_million = ?, "
                    + "per_gpu_second = ?, updated_at = ? WHERE model = ?")) {
                s.setLong(1, price.promptPerMillion());
                s.setLong(2, price.completionPerMillion());
                s.setLong(3, price.perGpuSecond());
                s.setLong(4, now);
                s.setString(5, price.model());
                updated = s.executeUpdate();
            }
            if (updated == 0) {
                try (PreparedStatement s = c.prepareStatement("INSERT INTO model_prices (model, prompt_per_million, "
                        + "completion_per_million, per_gpu_second, updated_at) VALUES (?, ?, ?, ?, ?)")) {
                    s.setString(1, price.model());
                    s.setLong(2, price.promptPerMillion());
                    s.setLong(3, price.completionPerMillion());
                    s.setLong(4, price.perGpuSecond());
                    s.setLong(5, now);
                    s.executeUpdate();
                }
            }
            return price;
        });
    }

    public Optional<Pricing> price(String model) {
        return prices().stream().filter(p -> p.model().equals(model)).findFirst();
    }

    public List<Pricing> prices() {
        return tx(c -> {
            List<Pricing> out = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("SELECT model, prompt_per_million, completion_per_million, per_gpu_second "
                    + "FROM model_prices ORDER BY model"); ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    out.add(new Pricing(rs.getString(1), rs.getLong(2), rs.getLong(3), rs.getLong(4)));
                }
            }
            return out;
        });
    }

    /** An account's usage, newest first; {@code pageToken} is the last record's "bookedAt/jobId" (empty for the first page). */
    public List<UsageRecord> usage(String accountId, int pageSize, String pageToken) {
        long beforeAt = Long.MAX_VALUE;
        String beforeJob = "";
        if (pageToken != null && !pageToken.isEmpty()) {
            int slash = pageToken.indexOf('/');
            try {
                beforeAt = Long.parseLong(pageToken.substring(0, slash));
                beforeJob = pageToken.substring(slash + 1);
            } catch (RuntimeException e) {
                throw new LedgerException(Kind.INVALID_ARGUMENT, "malformed page token '" + pageToken + "'");
            }
        }
        long at = beforeAt;
        String job = beforeJob;
        return tx(c -> {
            read(c, accountId, false);
            List<UsageRecord> out = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("SELECT job_id, key_id, model, node_id, prompt_tokens, completion_tokens, "
                    + "gpu_micros, compute_kind, cost, finish_reason, booked_at FROM usage_records WHERE account_id = ? AND "
                    + "(booked_at < ? OR (booked_at = ? AND job_id < ?)) ORDER BY booked_at DESC, job_id DESC LIMIT ?")) {
                s.setString(1, accountId);
                s.setLong(2, at);
                s.setLong(3, at);
                s.setString(4, job.isEmpty() ? "\uffff" : job);
                s.setInt(5, pageSize);
                try (ResultSet rs = s.executeQuery()) {
                    while (rs.next()) {
                        out.add(new UsageRecord(rs.getString(1), accountId, rs.getString(2), rs.getString(3), rs.getString(4),
                                rs.getLong(5), rs.getLong(6), rs.getLong(7), rs.getString(8), rs.getLong(9), rs.getString(10),
                                instant(rs.getLong(11))));
                    }
                }
            }
            return out;
        });
    }

    /** The page token that continues after {@code last}. */
    public static String pageTokenAfter(UsageRecord last) {
        Instant t = last.bookedAt();
        return (t.getEpochSecond() * 1_000_000L + t.getNano() / 1000) + "/" + last.jobId();
    }

    // ------------------------------------------------------------------ invariants

    /**
     * Every invariant of the ledger, checked over the whole database; empty when all hold. Used by
     * tests after every operation and available to operators.
     */
    public List<String> invariantViolations() {
        return tx(c -> {
            List<String> problems = new ArrayList<>();
            long supply = supply(c, false);
            try (PreparedStatement s = c.prepareStatement("SELECT COALESCE(SUM(diem_minted), 0), COALESCE(SUM(diem + diem_staked + diem_unstaking), 0) "
                    + "FROM accounts"); ResultSet rs = s.executeQuery()) {
                rs.next();
                if (rs.getLong(1) != supply) {
                    problems.add("supply " + supply + " != sum of minted " + rs.getLong(1));
                }
                if (rs.getLong(2) != supply) {
                    problems.add("supply " + supply + " != sum of DIEM balances " + rs.getLong(2));
                }
            }
            try (PreparedStatement s = c.prepareStatement("SELECT account_id FROM accounts WHERE (diem_minted = 0 AND svvv_locked <> 0) "
                    + "OR vvv < 0 OR svvv < 0 OR svvv_locked < 0 OR diem < 0 OR diem_staked < 0"); ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    problems.add("account " + rs.getString(1) + " has negative balances or sVVV locked without minted DIEM");
                }
            }
            try (PreparedStatement s = c.prepareStatement("SELECT d.account_id, d.utc_day, d.reserved, COALESCE(SUM(r.amount), 0) "
                    + "FROM account_days d LEFT JOIN reservations r ON r.account_id = d.account_id AND r.utc_day = d.utc_day AND r.state = 'pending' "
                    + "GROUP BY d.account_id, d.utc_day, d.reserved"); ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    if (rs.getLong(3) != rs.getLong(4)) {
                        problems.add("account " + rs.getString(1) + " on " + rs.getString(2) + ": reserved " + rs.getLong(3)
                                + " != pending reservations " + rs.getLong(4));
                    }
                }
            }
            try (PreparedStatement s = c.prepareStatement("SELECT d.account_id, d.utc_day, d.spent, COALESCE(SUM(u.cost), 0) "
                    + "FROM account_days d LEFT JOIN usage_records u ON u.account_id = d.account_id AND u.utc_day = d.utc_day "
                    + "GROUP BY d.account_id, d.utc_day, d.spent"); ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    if (rs.getLong(3) != rs.getLong(4)) {
                        problems.add("account " + rs.getString(1) + " on " + rs.getString(2) + ": spent " + rs.getLong(3)
                                + " != booked charges " + rs.getLong(4));
                    }
                }
            }
            return problems;
        });
    }
}
