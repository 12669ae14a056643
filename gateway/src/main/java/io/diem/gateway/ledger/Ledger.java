package io.diem.gateway.ledger;

import io.diem.common.UnixMicros;
import io.diem.gateway.ledger.LedgerViews.Account;
import io.diem.gateway.ledger.LedgerViews.ApiKey;
import io.diem.gateway.ledger.LedgerViews.Balance;
import io.diem.gateway.ledger.LedgerViews.Charge;
import io.diem.gateway.ledger.LedgerViews.CreatedKey;
import io.diem.gateway.ledger.LedgerViews.MintQuote;
import io.diem.gateway.ledger.LedgerViews.Scope;
import io.diem.gateway.ledger.LedgerViews.UsageRecord;
import io.diem.gateway.store.Db;
import io.diem.gateway.store.Tx;
import java.time.Clock;
import java.util.List;
import java.util.Optional;

/**
 * The money side of the gateway in one place: {@link Accounts}, {@link Credit}, {@link ApiKeys},
 * {@link Prices}, {@link UsageLog} and {@link Invariants} on one database. This class only
 * delegates; each aggregate documents its own guarantees. Amounts are integer micro-units.
 */
public final class Ledger {

    private final Tx tx;
    private final LedgerConfig config;
    private final Clock clock;
    private final Accounts accounts;
    private final Credit credit;
    private final ApiKeys keys;
    private final Prices prices;
    private final UsageLog usage;
    private final Invariants invariants;
    private final CreditLeases leases;
    private volatile LeasedCredit leased;

    public Ledger(Db db, LedgerConfig config, Clock clock) {
        this.tx = new Tx(db);
        this.config = config;
        this.clock = clock;
        this.accounts = new Accounts(tx, config, clock);
        this.credit = new Credit(tx, config, clock);
        this.keys = new ApiKeys(tx, clock);
        this.prices = new Prices(tx, clock);
        this.usage = new UsageLog(tx);
        this.invariants = new Invariants(tx);
        this.leases = new CreditLeases(tx, credit, config, clock);
    }

    /**
     * From now on calls hold credit ({@link #holdForCall}) from credit leases this gateway
     * ({@code gatewayId}) holds in memory, and balances read here count its unused leases as
     * remaining. Returns the leases, for the gateway's idle sweep and shutdown.
     */
    public LeasedCredit useLeases(String gatewayId, LeasedCredit.Policy policy) {
        leased = new LeasedCredit(credit, leases, gatewayId, clock, policy);
        return leased;
    }

    /** The credit leases in the ledger (every gateway's). */
    public CreditLeases leases() {
        return leases;
    }

    /** The transaction runner every other gateway store shares. */
    public Tx tx() {
        return tx;
    }

    /** Credit, for work that posts charges inside a larger transaction (receipt booking). */
    public Credit credit() {
        return credit;
    }

    public LedgerConfig config() {
        return config;
    }

    public Clock clock() {
        return clock;
    }

    /** Now, in µs since the epoch, on the ledger's clock. */
    public long now() {
        return UnixMicros.now(clock);
    }

    // ------------------------------------------------------------------ delegates

    public Account createAccount(String name) { return accounts.create(name); }

    public Account account(String accountId) { return accounts.get(accountId); }

    public List<Account> accounts(int limit, String afterId) { return accounts.list(limit, afterId); }

    public Account depositVvv(String accountId, long amount) { return accounts.depositVvv(accountId, amount); }

    public Account stakeVvv(String accountId, long amount) { return accounts.stakeVvv(accountId, amount); }

    public Account unstakeVvv(String accountId, long amount) { return accounts.unstakeVvv(accountId, amount); }

    public Account withdrawVvv(String accountId) { return accounts.withdrawVvv(accountId); }

    public MintQuote quoteMint(long amount) { return accounts.quoteMint(amount); }

    public MintQuote mint(String accountId, long amount, long maxCost) { return accounts.mint(accountId, amount, maxCost); }

    public Account burn(String accountId, long amount) { return accounts.burn(accountId, amount); }

    public Account stakeDiem(String accountId, long amount) { return accounts.stakeDiem(accountId, amount); }

    public Account unstakeDiem(String accountId, long amount) { return accounts.unstakeDiem(accountId, amount); }

    public long diemSupply() { return accounts.diemSupply(); }

    public Balance balance(String accountId) { return adjust(credit.balance(accountId)); }

    /** A balance as this gateway knows it: its own unused leases count as remaining ({@link LeasedCredit#adjust}). */
    private Balance adjust(Balance b) {
        LeasedCredit l = leased;
        return l == null ? b : l.adjust(b);
    }

    /**
     * Holds a call's worst case: carved from this gateway's lease once {@link #useLeases} was called
     * (recorded with the call's first job, {@link #recordingHold}), else reserved exactly now.
     */
    public CallHold holdForCall(String callId, String accountId, String keyId, long amount) {
        LeasedCredit l = leased;
        if (l == null) {
            credit.reserve(callId, accountId, keyId, amount);
            return new CallHold(callId, accountId, keyId, amount, null);
        }
        return l.hold(callId, accountId, keyId, amount);
    }

    /**
     * Runs {@code work} in one transaction with the hold's reservation written first if it is not yet
     * (a call's first job record and its reservation commit together).
     */
    public <T> T recordingHold(CallHold hold, Tx.Work<T> work) {
        if (hold.recorded()) {
            return tx.run(work);
        }
        LeasedCredit l = leased;
        T result = tx.run(sql -> {
            l.record(sql, hold);
            return work.run(sql);
        });
        hold.markRecorded();
        return result;
    }

    /** Releases a call's hold: its reservation when recorded, else the slice goes back to the lease. */
    public void release(CallHold hold) {
        LeasedCredit l = leased;
        if (l == null || !l.giveBack(hold)) {
            credit.release(hold.callId());
        }
    }

    /** The balance and the call's reservation, read inside the caller's transaction; this gateway's leases counted as remaining. */
    public Credit.BalanceWithReservation balanceWith(io.diem.gateway.store.Sql sql, String accountId, String reservationId)
            throws java.sql.SQLException {
        Credit.BalanceWithReservation both = credit.balanceWith(sql, accountId, reservationId);
        return new Credit.BalanceWithReservation(adjust(both.balance()), both.reservation());
    }

    public Reservation reserve(String id, String accountId, String keyId, long amount) {
        return credit.reserve(id, accountId, keyId, amount);
    }

    public Charge post(String reservationId, UsageRecord usage) { return credit.post(reservationId, usage, true); }

    public Charge post(String reservationId, UsageRecord usage, boolean nodePaid) {
        return credit.post(reservationId, usage, nodePaid);
    }

    public void release(String reservationId) { credit.release(reservationId); }

    public int expireReservations() { return credit.expireReservations(); }

    public int expireLeases() { return leases.expire(); }

    public Optional<Reservation> reservation(String reservationId) { return credit.reservation(reservationId); }

    public Credit.BalanceWithReservation balanceWith(String accountId, String reservationId) {
        Credit.BalanceWithReservation both = credit.balanceWith(accountId, reservationId);
        return new Credit.BalanceWithReservation(adjust(both.balance()), both.reservation());
    }

    public long openReservations() { return credit.openReservations(); }

    public CreatedKey createKey(String accountId, Scope scope, long dailyLimit, String label) {
        return keys.create(accountId, scope, dailyLimit, label);
    }

    public List<ApiKey> keys(String accountId) { return keys.list(accountId); }

    public ApiKey revokeKey(String keyId) { return keys.revoke(keyId); }

    public Optional<ApiKey> authenticate(String secret) { return keys.authenticate(secret); }

    public boolean hasKeys() { return keys.any(); }

    public Pricing setPrice(Pricing price) { return prices.set(price); }

    public Optional<Pricing> price(String model) { return prices.get(model); }

    public List<Pricing> prices() { return prices.list(); }

    public List<UsageRecord> usage(String accountId, int pageSize, String pageToken) {
        return usage.page(accountId, pageSize, pageToken);
    }

    public static String pageTokenAfter(UsageRecord last) { return UsageLog.pageTokenAfter(last); }

    public List<String> invariantViolations() { return invariants.violations(); }
}
