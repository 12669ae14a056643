package io.diem.gateway.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.diem.gateway.error.GatewayException.Kind;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.ledger.LedgerViews.Account;
import io.diem.gateway.ledger.LedgerViews.Balance;
import io.diem.gateway.ledger.LedgerViews.Charge;
import io.diem.gateway.ledger.LedgerViews.CreatedKey;
import io.diem.gateway.ledger.LedgerViews.Scope;
import io.diem.gateway.ledger.LedgerViews.UsageRecord;
import io.diem.gateway.store.Db;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The ledger's rules, run on every database it supports (see the H2 and PostgreSQL subclasses). */
abstract class LedgerContractTest {

    static final long VVV = 1_000_000;   // 1 VVV in µVVV
    static final long DIEM = 1_000_000;  // 1 DIEM in µDIEM (= 1 µUSD/day of credit per µDIEM)

    final MutableClock clock = new MutableClock(Instant.parse("2026-11-26T10:00:00Z"));
    Db db;
    Ledger ledger;

    abstract String jdbcUrl() throws Exception;

    void dropDatabase() throws Exception {}

    /** The database this test's ledger opened (a second ledger may open it too). */
    String openedUrl;

    @BeforeEach
    void open() throws Exception {
        openedUrl = jdbcUrl();
        db = Db.open(openedUrl, 4);
        ledger = new Ledger(db, LedgerConfig.defaults(), clock);
    }

    @AfterEach
    void close() throws Exception {
        assertThat(ledger.invariantViolations()).isEmpty();
        db.close();
        dropDatabase();
    }

    /** An account with {@code diem} DIEM minted and staked (credit = diem dollars a day). */
    String stakedAccount(long diem) {
        String id = ledger.createAccount("staker").accountId();
        ledger.depositVvv(id, 200 * diem * VVV);
        ledger.stakeVvv(id, 200 * diem * VVV);
        ledger.mint(id, diem * DIEM, 0);
        ledger.stakeDiem(id, diem * DIEM);
        return id;
    }

    static UsageRecord usage(String jobId, long cost) {
        return new UsageRecord(jobId, null, null, "tiny", "node-1", 10, 20, 5_000, "cpu", cost, "length", null);
    }

    @Test
    void aHoldWhoseLeaseExpiredBeforeItsFirstJobTakesAnExactReservationOrIsRefused() {
        String id = stakedAccount(1); // 1,000,000 µUSD today
        ledger.useLeases("00000000000000c3", LeasedCredit.Policy.defaults());
        CallHold fits = ledger.holdForCall("call-a", id, null, 100_000); // a lease of 4 calls' worth, carved in memory
        CallHold refused = ledger.holdForCall("call-b", id, null, 100_000);
        assertThat(fits.recorded()).isFalse();
        clock.advance(Duration.ofSeconds(31)); // this gateway stalled past the lease's life
        Ledger other = new Ledger(db, LedgerConfig.defaults(), clock);
        assertThat(other.expireLeases()).isEqualTo(1);
        other.reserve("big", id, null, 850_000); // 150,000 µUSD left
        ledger.recordingHold(fits, sql -> null); // the lease is closed: an exact reservation, which fits
        assertThat(ledger.reservation("call-a").orElseThrow().state()).isEqualTo(Reservation.State.PENDING);
        assertThat(ledger.reservation("call-a").orElseThrow().amount()).isEqualTo(100_000);
        ledger.reserve("more", id, null, 40_000); // 10,000 left
        assertThatThrownBy(() -> ledger.recordingHold(refused, sql -> null)).isInstanceOfSatisfying(GatewayException.class,
                e -> assertThat(e.kind()).isEqualTo(Kind.RESOURCE_EXHAUSTED));
        assertThat(refused.recorded()).isFalse();
        ledger.release(refused); // never in the ledger: only the lease's memory changes
        assertThat(ledger.reservation("call-b")).isEmpty();
        Balance b = other.balance(id);
        assertThat(b.reserved()).isEqualTo(850_000 + 100_000 + 40_000);
    }

    @Test
    void migrationIsIdempotent() {
        db.migrate();
        assertThat(ledger.diemSupply()).isZero();
    }

    @Test
    void stakeMintStakeGivesDailyCredit() {
        String id = stakedAccount(100);
        Account a = ledger.account(id);
        assertThat(a.diemStaked()).isEqualTo(100 * DIEM);
        assertThat(a.svvvLocked()).isEqualTo(ledger.config().curve().costMicro(0, 100 * DIEM));
        assertThat(a.svvv() + a.svvvLocked()).isEqualTo(20_000 * VVV);
        Balance b = ledger.balance(id);
        assertThat(b.allowance()).isEqualTo(100_000_000); // $100 in µUSD
        assertThat(b.remaining()).isEqualTo(100_000_000);
        assertThat(b.resetsAt()).isEqualTo(Instant.parse("2026-11-27T00:00:00Z"));
        assertThat(ledger.diemSupply()).isEqualTo(100 * DIEM);
    }

    @Test
    void chargesRacingTheirDaysCloseLandInExactlyOneEpochThatCountsThem() throws Exception {
        String id = stakedAccount(10);
        int n = 40;
        for (int i = 0; i < n; i++) {
            ledger.reserve("race-" + i, id, null, 1_000);
        }
        String day = io.diem.common.UnixMicros.day(ledger.now());
        clock.advance(Duration.ofDays(1));
        var settlement = new io.diem.gateway.settlement.Settlement(ledger, 7000);
        var pool = java.util.concurrent.Executors.newFixedThreadPool(4);
        List<java.util.concurrent.Future<?>> futures = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int job = i;
            futures.add(pool.submit(() -> ledger.post("race-" + job, usage("race-job-" + job, 100 + job))));
            if (i == n / 2) {
                futures.add(pool.submit(() -> settlement.close(day)));
            }
        }
        for (var f : futures) {
            f.get();
        }
        pool.shutdown();
        long closedFees = settlement.report(day).orElseThrow().fees();
        long all = ledger.usage(id, 1000, "").stream().mapToLong(UsageRecord::cost).sum();
        assertThat(all).isEqualTo(n * 100L + (long) n * (n - 1) / 2); // every charge booked once
        assertThat(closedFees).isBetween(0L, all);
        // Including "a closed epoch's fees = Σ charges tagged with it": the rest went to the next open day.
        assertThat(ledger.invariantViolations()).isEmpty();
        String next = java.time.LocalDate.parse(day).plusDays(1).toString();
        long later = ledger.tx().run(sql -> sql.number("SELECT COALESCE(SUM(cost), 0) FROM usage_records WHERE epoch = ?", next));
        assertThat(closedFees + later).as("charges after the close settle in the next open day").isEqualTo(all);
    }

    @Test
    void aReservationIdIsStrictARetryReturnsItAndDifferentContentIsRefused() {
        String id = stakedAccount(1);
        String other = stakedAccount(1);
        var first = ledger.reserve("strict-1", id, null, 1_000);
        var retry = ledger.reserve("strict-1", id, null, 1_000);
        assertThat(retry.amount()).isEqualTo(first.amount());
        assertThat(ledger.balance(id).reserved()).isEqualTo(1_000); // held once
        assertThatThrownBy(() -> ledger.reserve("strict-1", id, null, 2_000))
                .isInstanceOfSatisfying(GatewayException.class, e -> assertThat(e.kind()).isEqualTo(Kind.ALREADY_EXISTS))
                .hasMessage("reservation strict-1 exists with a different amount (1000 µUSD, not 2000)");
        assertThatThrownBy(() -> ledger.reserve("strict-1", other, null, 1_000))
                .isInstanceOfSatisfying(GatewayException.class, e -> assertThat(e.kind()).isEqualTo(Kind.ALREADY_EXISTS))
                .hasMessage("reservation strict-1 exists with a different account (" + id + ", not " + other + ")");
        String key = ledger.createKey(id, Scope.INFERENCE, 0, "k").key().keyId();
        assertThatThrownBy(() -> ledger.reserve("strict-1", id, key, 1_000))
                .isInstanceOfSatisfying(GatewayException.class, e -> assertThat(e.kind()).isEqualTo(Kind.ALREADY_EXISTS))
                .hasMessage("reservation strict-1 exists with a different key (null, not " + key + ")");
        assertThat(ledger.balance(id).reserved()).isEqualTo(1_000);
        assertThat(ledger.balance(other).reserved()).isZero();
        assertThat(ledger.invariantViolations()).isEmpty();
    }

    @Test
    void reservationsNeverExceedWhatRemainsAndSettleToTheCharge() {
        String id = stakedAccount(1); // $1 = 1,000,000 µUSD
        ledger.reserve("r1", id, null, 600_000);
        assertThatThrownBy(() -> ledger.reserve("r2", id, null, 400_001))
                .isInstanceOfSatisfying(GatewayException.class, e -> assertThat(e.kind()).isEqualTo(Kind.RESOURCE_EXHAUSTED))
                .hasMessageContaining("400001 µUSD and 400000 µUSD remain");
        ledger.reserve("r2", id, null, 400_000);
        assertThat(ledger.balance(id).remaining()).isZero();

        Charge charge = ledger.post("r1", usage("job-1", 250_000));
        assertThat(charge.charged()).isEqualTo(250_000);
        assertThat(charge.balanceAfter().spent()).isEqualTo(250_000);
        assertThat(charge.balanceAfter().reserved()).isEqualTo(400_000);
        assertThat(charge.balanceAfter().remaining()).isEqualTo(350_000);

        // posting twice is a no-op that returns the first charge
        Charge again = ledger.post("r1", usage("job-1", 999_999));
        assertThat(again.alreadyPosted()).isTrue();
        assertThat(again.charged()).isEqualTo(250_000);

        // a charge is capped at what was reserved
        assertThat(ledger.post("r2", usage("job-2", 10_000_000)).charged()).isEqualTo(400_000);
        assertThat(ledger.balance(id).spent()).isEqualTo(650_000);
        assertThat(ledger.usage(id, 10, "")).extracting(UsageRecord::jobId).containsExactlyInAnyOrder("job-1", "job-2");
    }

    @Test
    void reservingTheSameIdTwiceHoldsCreditOnce() {
        String id = stakedAccount(1);
        ledger.reserve("same", id, null, 300_000);
        ledger.reserve("same", id, null, 300_000);
        assertThat(ledger.balance(id).reserved()).isEqualTo(300_000);
    }

    @Test
    void releasedAndExpiredReservationsGiveTheCreditBack() {
        String id = stakedAccount(1);
        ledger.reserve("a", id, null, 500_000);
        ledger.release("a");
        assertThat(ledger.balance(id).remaining()).isEqualTo(1_000_000);
        ledger.reserve("b", id, null, 700_000);
        clock.advance(ledger.config().reservationTtl().plusSeconds(1));
        assertThat(ledger.expireReservations()).isEqualTo(1);
        assertThat(ledger.balance(id).remaining()).isEqualTo(1_000_000);
        assertThatThrownBy(() -> ledger.post("b", usage("job-b", 1))).hasMessageContaining("is expired");
    }

    @Test
    void creditResetsAtTheUtcDayBoundaryWithoutRollover() {
        clock.set(Instant.parse("2026-11-26T23:59:59Z"));
        String id = stakedAccount(1);
        ledger.reserve("late", id, null, 900_000);
        ledger.post("late", usage("job-late", 900_000));
        assertThat(ledger.balance(id).remaining()).isEqualTo(100_000);
        clock.set(Instant.parse("2026-11-27T00:00:00Z"));
        Balance next = ledger.balance(id);
        assertThat(next.spent()).isZero();
        assertThat(next.remaining()).isEqualTo(1_000_000); // a fresh $1, not $1.10
        assertThat(next.resetsAt()).isEqualTo(Instant.parse("2026-11-28T00:00:00Z"));
    }

    @Test
    void keyDailyLimitCapsTheKeyNotTheAccount() {
        String id = stakedAccount(10);
        CreatedKey key = ledger.createKey(id, Scope.INFERENCE, 300_000, "capped");
        ledger.reserve("k1", id, key.key().keyId(), 200_000);
        assertThatThrownBy(() -> ledger.reserve("k2", id, key.key().keyId(), 100_001))
                .hasMessageContaining("daily limit");
        ledger.reserve("k3", id, null, 5_000_000); // the account itself still has credit
    }

    @Test
    void unstakingStopsCreditAtOnceAndReturnsTokensAfterTheCooldown() {
        String id = stakedAccount(5);
        ledger.unstakeDiem(id, 5 * DIEM);
        Account a = ledger.account(id);
        assertThat(a.balance().allowance()).isZero();
        assertThat(a.diemUnstaking()).isEqualTo(5 * DIEM);
        assertThat(a.diem()).isZero();
        clock.advance(Duration.ofDays(1).minusSeconds(1));
        assertThat(ledger.account(id).diem()).isZero();
        clock.advance(Duration.ofSeconds(1));
        Account after = ledger.account(id);
        assertThat(after.diem()).isEqualTo(5 * DIEM);
        assertThat(after.diemUnstaking()).isZero();
    }

    @Test
    void belowTheMinimumStakeThereIsNoCredit() {
        String id = ledger.createAccount("small").accountId();
        ledger.depositVvv(id, 100 * VVV);
        ledger.stakeVvv(id, 100 * VVV);
        ledger.mint(id, 99_999, 0); // 0.099999 DIEM
        ledger.stakeDiem(id, 99_999);
        assertThat(ledger.balance(id).allowance()).isZero();
        ledger.mint(id, 1, 0);
        ledger.stakeDiem(id, 1);
        assertThat(ledger.balance(id).allowance()).isEqualTo(100_000);
    }

    @Test
    void vvvCooldownGatesWithdrawal() {
        String id = ledger.createAccount("v").accountId();
        ledger.depositVvv(id, 10 * VVV);
        ledger.stakeVvv(id, 10 * VVV);
        ledger.unstakeVvv(id, 4 * VVV);
        assertThatThrownBy(() -> ledger.withdrawVvv(id)).hasMessageContaining("in cooldown until 2026-12-03T10:00:00Z");
        clock.advance(Duration.ofDays(7));
        Account a = ledger.withdrawVvv(id);
        assertThat(a.vvv()).isEqualTo(4 * VVV);
        assertThat(a.svvv()).isEqualTo(6 * VVV);
    }

    @Test
    void burnUnlocksLockedSvvvProRataAndAllOfItOnTheLastBurn() {
        String id = ledger.createAccount("b").accountId();
        ledger.depositVvv(id, 10_000 * VVV);
        ledger.stakeVvv(id, 10_000 * VVV);
        ledger.mint(id, 30 * DIEM, 0);
        long locked = ledger.account(id).svvvLocked();
        Account a = ledger.burn(id, 10 * DIEM);
        assertThat(a.svvvLocked()).isEqualTo(locked - locked / 3);
        Account b = ledger.burn(id, 20 * DIEM);
        assertThat(b.svvvLocked()).isZero();
        assertThat(b.svvv()).isEqualTo(10_000 * VVV);
        assertThat(ledger.diemSupply()).isZero();
    }

    @Test
    void badAmountsAndUnknownAccountsGetPreciseKinds() {
        String id = ledger.createAccount("x").accountId();
        assertKind(() -> ledger.stakeVvv(id, 0), Kind.INVALID_ARGUMENT);
        assertKind(() -> ledger.stakeVvv(id, -5), Kind.INVALID_ARGUMENT);
        assertKind(() -> ledger.stakeVvv(id, 1), Kind.FAILED_PRECONDITION);
        assertKind(() -> ledger.stakeVvv("acct_nope", 1), Kind.NOT_FOUND);
        assertKind(() -> ledger.quoteMint(38_000 * DIEM), Kind.FAILED_PRECONDITION);
        assertKind(() -> ledger.createAccount(""), Kind.INVALID_ARGUMENT);
        assertKind(() -> ledger.revokeKey("key_nope"), Kind.NOT_FOUND);
        assertKind(() -> ledger.reserve("r", id, null, -1), Kind.INVALID_ARGUMENT);
    }

    @Test
    void mintRespectsTheCostCapAndOrderDoesNotChangeTheTotal() {
        String a = ledger.createAccount("a").accountId();
        ledger.depositVvv(a, 1_000_000 * VVV);
        ledger.stakeVvv(a, 1_000_000 * VVV);
        long quoted = ledger.quoteMint(10 * DIEM).svvvCost();
        assertKind(() -> ledger.mint(a, 10 * DIEM, quoted - 1), Kind.FAILED_PRECONDITION);
        for (int i = 0; i < 10; i++) {
            ledger.mint(a, DIEM, 0);
        }
        assertThat(ledger.account(a).svvvLocked()).isEqualTo(quoted);
    }

    @Test
    void keysAreShownOnceStoredHashedAndRevocable() {
        String id = ledger.createAccount("k").accountId();
        CreatedKey created = ledger.createKey(id, Scope.ADMIN, 0, "ops");
        assertThat(created.secret()).startsWith("diem_").hasSizeGreaterThan(40);
        assertThat(ledger.authenticate(created.secret())).contains(created.key());
        assertThat(ledger.authenticate(created.secret() + "x")).isEmpty();
        assertThat(ledger.authenticate("")).isEmpty();
        assertThat(ledger.keys(id)).containsExactly(created.key());
        ledger.revokeKey(created.key().keyId());
        assertThat(ledger.authenticate(created.secret())).isEmpty();
        assertThat(ledger.keys(id).get(0).revoked()).isTrue();
    }

    @Test
    void pricesAreSetReplacedAndListed() {
        ledger.setPrice(new Pricing("tiny", 100_000, 200_000, 300));
        ledger.setPrice(new Pricing("tiny", 1, 2, 3));
        ledger.setPrice(new Pricing("big", 0, 0, 1_000));
        assertThat(ledger.prices()).containsExactly(new Pricing("big", 0, 0, 1_000), new Pricing("tiny", 1, 2, 3));
        assertThat(ledger.price("tiny")).contains(new Pricing("tiny", 1, 2, 3));
        assertKind(() -> ledger.setPrice(new Pricing("x", -1, 0, 0)), Kind.INVALID_ARGUMENT);
    }

    @Test
    void usageIsPaginatedNewestFirst() {
        String id = stakedAccount(10);
        for (int i = 0; i < 5; i++) {
            ledger.reserve("p" + i, id, null, 1_000);
            ledger.post("p" + i, usage("job-" + i, 10 * i));
            clock.advance(Duration.ofSeconds(1));
        }
        List<UsageRecord> first = ledger.usage(id, 2, "");
        assertThat(first).extracting(UsageRecord::jobId).containsExactly("job-4", "job-3");
        List<UsageRecord> second = ledger.usage(id, 2, Ledger.pageTokenAfter(first.get(1)));
        assertThat(second).extracting(UsageRecord::jobId).containsExactly("job-2", "job-1");
        assertKind(() -> ledger.usage(id, 2, "garbage"), Kind.INVALID_ARGUMENT);
    }

    @Test
    void randomOperationSequencesKeepEveryInvariant() {
        Random random = new Random(42);
        List<String> accounts = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            String id = ledger.createAccount("r" + i).accountId();
            ledger.depositVvv(id, 50_000 * VVV);
            accounts.add(id);
        }
        List<String> pending = new ArrayList<>();
        for (int step = 0; step < 150; step++) {
            String id = accounts.get(random.nextInt(accounts.size()));
            long amount = 1 + random.nextInt(50) * DIEM / 4;
            try {
                switch (random.nextInt(10)) {
                    case 0 -> ledger.stakeVvv(id, amount * 100);
                    case 1 -> ledger.unstakeVvv(id, amount);
                    case 2 -> ledger.mint(id, amount, 0);
                    case 3 -> ledger.burn(id, amount);
                    case 4 -> ledger.stakeDiem(id, amount);
                    case 5 -> ledger.unstakeDiem(id, amount);
                    case 6 -> {
                        String r = "rr" + step;
                        ledger.reserve(r, id, null, amount / 3);
                        pending.add(r);
                    }
                    case 7 -> {
                        if (!pending.isEmpty()) {
                            ledger.post(pending.remove(0), usage("job-r" + step, random.nextInt(1_000_000)));
                        }
                    }
                    case 8 -> {
                        if (!pending.isEmpty()) {
                            ledger.release(pending.remove(random.nextInt(pending.size())));
                        }
                    }
                    default -> clock.advance(Duration.ofHours(1 + random.nextInt(12)));
                }
            } catch (GatewayException e) {
                assertThat(e.kind()).isIn(Kind.FAILED_PRECONDITION, Kind.RESOURCE_EXHAUSTED);
            }
            assertThat(ledger.invariantViolations()).as("after step %d", step).isEmpty();
            for (String a : accounts) {
                Balance b = ledger.balance(a);
                assertThat(b.remaining()).isNotNegative();
            }
        }
    }

    static void assertKind(Runnable call, Kind kind) {
        assertThatThrownBy(call::run)
                .isInstanceOfSatisfying(GatewayException.class, e -> assertThat(e.kind()).isEqualTo(kind));
    }

    @Test
    void aKeyRevokedOrAPriceSetThroughAnotherGatewayTakesEffectHereWithinASecond() throws Exception {
        String account = stakedAccount(1);
        CreatedKey key = ledger.createKey(account, Scope.INFERENCE, 0, "cached");
        ledger.setPrice(new Pricing("m", 1, 2, 3));
        assertThat(ledger.authenticate(key.secret())).isPresent(); // now cached on this gateway
        assertThat(ledger.price("m")).contains(new Pricing("m", 1, 2, 3));
        // Another gateway on the same ledger: its own Ledger (own caches), wall-clock expiry of ours.
        try (Db other = Db.open(openedUrl, 2)) {
            Ledger elsewhere = new Ledger(other, LedgerConfig.defaults(), clock);
            elsewhere.revokeKey(key.key().keyId());
            elsewhere.setPrice(new Pricing("m", 10, 20, 30));
            long start = System.nanoTime();
            while (ledger.authenticate(key.secret()).isPresent() || !ledger.price("m").orElseThrow().equals(new Pricing("m", 10, 20, 30))) {
                assertThat(System.nanoTime() - start).as("revocation and price reach this gateway within 1 s").isLessThan(1_000_000_000L);
                Thread.sleep(20);
            }
        }
        // On this gateway itself, at once.
        CreatedKey second = ledger.createKey(account, Scope.INFERENCE, 0, "local");
        assertThat(ledger.authenticate(second.secret())).isPresent();
        ledger.revokeKey(second.key().keyId());
        assertThat(ledger.authenticate(second.secret())).isEmpty();
        ledger.setPrice(new Pricing("m", 7, 7, 7));
        assertThat(ledger.price("m")).contains(new Pricing("m", 7, 7, 7));
    }
}
