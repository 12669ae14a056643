package io.diem.gateway.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import io.diem.gateway.error.GatewayException.Kind;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.store.Db;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Credit leases under random interleavings: three gateways (each its own {@link Ledger} with leases
 * over one H2 database) admit, charge and release calls of one account with a small allowance, return
 * idle leases, crash (dropping what they held in memory), restart, and a clock moves (across midnight,
 * past lease lifetimes). After every step: the ledger's invariants hold (reserved = pending
 * reservations + uncarved open leases; spent = charges), no day's spent + reserved exceeds the
 * allowance, every charge the model made is in the ledger, and a refusal while no lease is open means
 * the account really lacked the credit. At the end every lease is back.
 */
class CreditLeaseModelTest {

    static final long ALLOWANCE = 1_000_000; // µUSD a day: 1 DIEM staked
    static final int GATEWAYS = 3;

    /** A call the model admitted and has not charged or released yet, by the ledger (gateway) that holds it. */
    record Call(String id, long amount, CallHold hold, Ledger by) {}

    @Property(tries = 60)
    void leasesNeverOverspendAndAlwaysComeBack(@ForAll @Size(min = 10, max = 80) List<@IntRange(min = 0, max = 999_999) Integer> steps)
            throws Exception {
        MutableClock clock = new MutableClock(Instant.parse("2026-11-26T23:55:00Z"));
        LeasedCredit.Policy policy = new LeasedCredit.Policy(Duration.ofSeconds(30), Duration.ofSeconds(20), Duration.ofSeconds(2), 2, 8);
        try (Db db = Db.open("jdbc:h2:mem:leases-" + UUID.randomUUID() + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;"
                + "DEFAULT_NULL_ORDERING=HIGH", 4)) {
            Ledger admin = new Ledger(db, LedgerConfig.defaults(), clock);
            String account = admin.createAccount("model").accountId();
            admin.depositVvv(account, 200_000 * 1_000_000L);
            admin.stakeVvv(account, 200_000 * 1_000_000L);
            admin.mint(account, ALLOWANCE, 1_000_000_000_000L);
            admin.stakeDiem(account, ALLOWANCE);
            String[] ids = new String[GATEWAYS];
            Ledger[] gateways = new Ledger[GATEWAYS];
            LeasedCredit[] leased = new LeasedCredit[GATEWAYS];
            for (int g = 0; g < GATEWAYS; g++) {
                ids[g] = String.format("%016x", g + 1);
                gateways[g] = new Ledger(db, LedgerConfig.defaults(), clock);
                leased[g] = gateways[g].useLeases(ids[g], policy);
            }
            List<Call> open = new ArrayList<>();
            long charged = 0;
            int calls = 0;
            for (int step : steps) {
                int g = step % GATEWAYS;
                int arg = step / GATEWAYS;
                switch ((step / 7) % 8) {
                    case 0, 1, 2 -> { // admit a call of 1..250,000 µUSD
                        long amount = 1 + (long) arg * 7919 % 250_000;
                        String id = "call_" + ids[g] + "_" + (calls++);
                        try {
                            // Some holds stay in memory until the call's first job records them (or it is released first).
                            CallHold hold = gateways[g].holdForCall(id, account, null, amount);
                            if (arg % 2 != 0) {
                                gateways[g].recordingHold(hold, sql -> null); // recorded at once
                            }
                            open.add(new Call(id, amount, hold, gateways[g]));
                        } catch (GatewayException e) {
                            assertThat(e.kind()).isEqualTo(Kind.RESOURCE_EXHAUSTED);
                            if (openLeases(db) == 0) { // no lease elsewhere: the refusal is the ledger's exact answer
                                assertThat(admin.balance(account).remaining()).isLessThan(amount);
                            }
                        }
                    }
                    case 3 -> { // charge an open call (cost may exceed what was reserved: capped)
                        if (!open.isEmpty()) {
                            Call c = open.remove(arg % open.size());
                            long cost = (long) arg * 104_729 % 300_000;
                            boolean lost = !c.hold().recorded() && !alive(c.by(), gateways); // crashed before its first job
                            if (!lost && recorded(c)) {
                                if (admin.reservation(c.id()).orElseThrow().state() == Reservation.State.PENDING) {
                                    charged += admin.post(c.id(), LedgerContractTest.usage("job-" + c.id(), cost)).charged();
                                }
                            }
                        }
                    }
                    case 4 -> { // release an open call
                        if (!open.isEmpty()) {
                            Call c = open.remove(arg % open.size());
                            if (!c.hold().recorded()) {
                                if (alive(c.by(), gateways)) {
                                    c.by().release(c.hold()); // back to the lease, in memory
                                }
                            } else if (admin.reservation(c.id()).orElseThrow().state() == Reservation.State.PENDING) {
                                admin.release(c.id());
                            }
                        }
                    }
                    case 5 -> leased[g].returnIdle();
                    case 6 -> { // crash: what the gateway held in memory is gone; it restarts and returns its leases
                        gateways[g] = new Ledger(db, LedgerConfig.defaults(), clock);
                        leased[g] = gateways[g].useLeases(ids[g], policy);
                        if (arg % 2 == 0) {
                            gateways[g].leases().giveBackAll(ids[g]);
                        }
                    }
                    default -> { // time passes, and the sweeps run
                        clock.advance(Duration.ofMillis(arg % 40_000));
                        admin.expireLeases();
                        admin.expireReservations();
                    }
                }
                assertThat(admin.invariantViolations()).isEmpty();
                assertThat(overAllowance(db)).isEmpty();
                assertThat(spent(db)).isEqualTo(charged);
            }
            clock.advance(policy.lifetime().plusSeconds(1));
            admin.expireLeases();
            assertThat(admin.leases().held()).isZero();
            assertThat(openLeases(db)).isZero();
            assertThat(admin.invariantViolations()).isEmpty();
        }
    }

    /**
     * Records the call's hold as its first job would (a no-op when recorded); false when that was refused:
     * its lease closed meanwhile and the exact reservation found too little credit.
     */
    private static boolean recorded(Call c) {
        try {
            c.by().recordingHold(c.hold(), sql -> null);
            return true;
        } catch (GatewayException e) {
            assertThat(e.kind()).isEqualTo(Kind.RESOURCE_EXHAUSTED);
            return false;
        }
    }

    private static boolean alive(Ledger gateway, Ledger[] gateways) {
        return java.util.Arrays.asList(gateways).contains(gateway);
    }

    private static List<String> overAllowance(Db db) {
        return new io.diem.gateway.store.Tx(db).run(sql -> sql.list("SELECT utc_day, spent, reserved FROM account_days WHERE "
                + "spent + reserved > ?", rs -> rs.getString(1) + ": spent " + rs.getLong(2) + " + reserved " + rs.getLong(3),
                ALLOWANCE));
    }

    private static long spent(Db db) {
        return new io.diem.gateway.store.Tx(db).run(sql -> sql.number("SELECT COALESCE(SUM(spent), 0) FROM account_days"));
    }

    private static long openLeases(Db db) {
        return new io.diem.gateway.store.Tx(db).run(sql -> sql.number("SELECT COUNT(*) FROM credit_leases WHERE state = 'open'"));
    }
}
