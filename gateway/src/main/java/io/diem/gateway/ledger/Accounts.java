package io.diem.gateway.ledger;

import io.diem.common.UnixMicros;
import io.diem.gateway.error.GatewayException.Kind;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.ledger.LedgerViews.Account;
import io.diem.gateway.ledger.LedgerViews.MintQuote;
import io.diem.gateway.store.Sql;
import io.diem.gateway.store.Tx;
import java.math.BigInteger;
import java.security.SecureRandom;
import java.sql.SQLException;
import java.time.Clock;
import java.util.HexFormat;
import java.util.List;

/**
 * Accounts and their tokens: VVV deposits, staking and cooldowns, DIEM minted along the curve,
 * burned, staked for credit. Every operation is one transaction that locks the account's row first
 * and appends to the {@link Operations} history. Amounts are integer micro-units.
 *
 * <p>Cooldowns: an unstake adds to the pending amount and restarts its cooldown. Pending DIEM returns
 * to the liquid balance by itself once its cooldown ends (applied whenever the account is touched);
 * pending VVV waits for an explicit withdraw.
 */
public final class Accounts {

    private static final SecureRandom RANDOM = new SecureRandom();

    private final Tx tx;
    private final LedgerConfig config;
    private final Clock clock;

    public Accounts(Tx tx, LedgerConfig config, Clock clock) {
        this.tx = tx;
        this.config = config;
        this.clock = clock;
    }

    private long now() {
        return UnixMicros.now(clock);
    }

    public Account create(String name) {
        String trimmed = name == null ? "" : name.strip();
        if (trimmed.isEmpty() || trimmed.length() > 64) {
            throw new GatewayException(Kind.INVALID_ARGUMENT, "account name must be 1..64 characters, got " + trimmed.length());
        }
        String id = "acct_" + randomHex(12);
        return tx.run(sql -> {
            long now = now();
            sql.update("INSERT INTO accounts (account_id, name, created_at) VALUES (?, ?, ?)", id, trimmed, now);
            Operations.record(sql, "create:" + id, id, "create", 0, trimmed, now);
            return view(sql, AccountRow.read(sql, id, false));
        });
    }

    public Account get(String accountId) {
        return tx.run(sql -> view(sql, AccountRow.lockAndMature(sql, accountId, now())));
    }

    /** Accounts ordered by id, after {@code afterId} (empty for the first page). */
    public List<Account> list(int limit, String afterId) {
        return tx.run(sql -> {
            List<AccountRow> rows = sql.list("SELECT " + AccountRow.COLUMNS + " FROM accounts WHERE account_id > ? ORDER BY account_id "
                    + "LIMIT ?", AccountRow::map, afterId == null ? "" : afterId, limit);
            List<Account> out = new java.util.ArrayList<>();
            for (AccountRow r : rows) {
                out.add(view(sql, r));
            }
            return out;
        });
    }

    /** Credits liquid VVV (a deposit from outside the ledger). */
    public Account depositVvv(String accountId, long amount) {
        positive(amount, "deposit");
        return mutate(accountId, "deposit_vvv", amount, (sql, a) -> a.vvv = Math.addExact(a.vvv, amount));
    }

    public Account stakeVvv(String accountId, long amount) {
        positive(amount, "VVV to stake");
        return mutate(accountId, "stake_vvv", amount, (sql, a) -> {
            need(a.vvv, amount, "liquid VVV", accountId);
            a.vvv -= amount;
            a.svvv += amount;
        });
    }

    public Account unstakeVvv(String accountId, long amount) {
        positive(amount, "VVV to unstake");
        return mutate(accountId, "unstake_vvv", amount, (sql, a) -> {
            need(a.svvv, amount, "unlocked sVVV (locked sVVV backs minted DIEM)", accountId);
            a.svvv -= amount;
            a.vvvUnstaking += amount;
            a.vvvUnstakingUntil = now() + config.vvvCooldown().toNanos() / 1000;
        });
    }

    public Account withdrawVvv(String accountId) {
        return mutate(accountId, "withdraw_vvv", 0, (sql, a) -> {
            if (a.vvvUnstaking == 0) {
                throw new GatewayException(Kind.FAILED_PRECONDITION, "account " + accountId + " has no VVV unstaking");
            }
            if (now() < a.vvvUnstakingUntil) {
                throw new GatewayException(Kind.FAILED_PRECONDITION, Units.format(a.vvvUnstaking) + " VVV is in cooldown until "
                        + UnixMicros.instant(a.vvvUnstakingUntil));
            }
            a.vvv += a.vvvUnstaking;
            a.vvvUnstaking = 0;
            a.vvvUnstakingUntil = 0;
        });
    }

    public MintQuote quoteMint(long amount) {
        positive(amount, "DIEM to mint");
        return tx.run(sql -> quote(supply(sql, false), amount));
    }

    private MintQuote quote(long supply, long amount) {
        MintCurve curve = config.curve();
        if (!curve.fits(supply, amount)) {
            throw new GatewayException(Kind.FAILED_PRECONDITION, "minting " + Units.format(amount) + " DIEM at a supply of "
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
        return tx.run(sql -> {
            AccountRow a = AccountRow.lockAndMature(sql, accountId, now());
            long supply = supply(sql, true); // locks the supply row: mints are serialised, so the price is exact
            MintQuote q = quote(supply, amount);
            if (maxCost > 0 && q.svvvCost() > maxCost) {
                throw new GatewayException(Kind.FAILED_PRECONDITION, "minting " + Units.format(amount) + " DIEM costs "
                        + Units.format(q.svvvCost()) + " sVVV, above the limit of " + Units.format(maxCost));
            }
            need(a.svvv, q.svvvCost(), "unlocked sVVV for this mint", accountId);
            a.svvv -= q.svvvCost();
            a.svvvLocked += q.svvvCost();
            a.diem += amount;
            a.diemMinted += amount;
            setSupply(sql, supply + amount);
            a.store(sql);
            Operations.record(sql, "mint_diem:" + randomHex(8), accountId, "mint_diem", amount, "", now());
            return q;
        });
    }

    /** Burns liquid DIEM and unlocks {@code locked × amount / minted} sVVV (all of it on the last burn). */
    public Account burn(String accountId, long amount) {
        positive(amount, "DIEM to burn");
        return mutate(accountId, "burn_diem", amount, (sql, a) -> {
            need(a.diem, amount, "liquid DIEM", accountId);
            need(a.diemMinted, amount, "DIEM minted by this account", accountId);
            long supply = supply(sql, true);
            long unlock = amount == a.diemMinted ? a.svvvLocked
                    : BigInteger.valueOf(a.svvvLocked).multiply(BigInteger.valueOf(amount))
                            .divide(BigInteger.valueOf(a.diemMinted)).longValueExact();
            a.svvvLocked -= unlock;
            a.svvv += unlock;
            a.diem -= amount;
            a.diemMinted -= amount;
            setSupply(sql, supply - amount);
        });
    }

    public Account stakeDiem(String accountId, long amount) {
        positive(amount, "DIEM to stake");
        return mutate(accountId, "stake_diem", amount, (sql, a) -> {
            need(a.diem, amount, "liquid DIEM", accountId);
            a.diem -= amount;
            a.diemStaked += amount;
        });
    }

    /** Credit from the unstaked DIEM stops now; the tokens return after the cooldown. */
    public Account unstakeDiem(String accountId, long amount) {
        positive(amount, "DIEM to unstake");
        return mutate(accountId, "unstake_diem", amount, (sql, a) -> {
            need(a.diemStaked, amount, "staked DIEM", accountId);
            a.diemStaked -= amount;
            a.diemUnstaking += amount;
            a.diemUnstakingUntil = now() + config.diemCooldown().toNanos() / 1000;
        });
    }

    public long diemSupply() {
        return tx.run(sql -> supply(sql, false));
    }

    static long supply(Sql sql, boolean lock) throws SQLException {
        return sql.number("SELECT diem_supply FROM ledger_state WHERE id = 1" + (lock ? " FOR UPDATE" : ""));
    }

    private static void setSupply(Sql sql, long supply) throws SQLException {
        sql.update("UPDATE ledger_state SET diem_supply = ? WHERE id = 1", supply);
    }

    @FunctionalInterface
    private interface Mutation {
        void apply(Sql sql, AccountRow row) throws SQLException;
    }

    private Account mutate(String accountId, String kind, long amount, Mutation mutation) {
        return tx.run(sql -> {
            AccountRow row = AccountRow.lockAndMature(sql, accountId, now());
            try {
                mutation.apply(sql, row);
            } catch (ArithmeticException e) {
                throw new GatewayException(Kind.FAILED_PRECONDITION, kind.replace('_', ' ') + " of " + Units.format(amount)
                        + " would take account " + accountId + " past the largest balance the ledger holds ("
                        + Units.format(Long.MAX_VALUE) + ")");
            }
            row.store(sql);
            Operations.record(sql, kind + ":" + randomHex(8), accountId, kind, amount, "", now());
            return view(sql, row);
        });
    }

    /** The account as its row now stands (read or just stored in this transaction). */
    private Account view(Sql sql, AccountRow r) throws SQLException {
        return new Account(r.id, r.name, UnixMicros.instant(r.createdAt), r.vvv, r.svvv, r.svvvLocked, r.vvvUnstaking,
                UnixMicros.instant(r.vvvUnstakingUntil), r.diem, r.diemStaked, r.diemUnstaking,
                UnixMicros.instant(r.diemUnstakingUntil), r.diemMinted, DailyCredit.balance(sql, r, config, now()));
    }

    static long positive(long amount, String what) {
        if (amount <= 0) {
            throw new GatewayException(Kind.INVALID_ARGUMENT, what + " must be > 0 micro-units, got " + amount);
        }
        return amount;
    }

    private static void need(long have, long amount, String what, String accountId) {
        if (have < amount) {
            throw new GatewayException(Kind.FAILED_PRECONDITION, "account " + accountId + " has " + Units.format(have)
                    + " " + what + ", needs " + Units.format(amount));
        }
    }

    static String randomHex(int bytes) {
        byte[] b = new byte[bytes];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
