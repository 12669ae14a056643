package io.diem.gateway.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import io.diem.gateway.error.GatewayException.Kind;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.store.Db;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The ledger contract on PostgreSQL, plus two ledgers (as two gateways) sharing one database. */
class PostgresLedgerTest extends LedgerContractTest {

    private String url;

    @Override
    String jdbcUrl() throws Exception {
        url = TestDatabases.postgresSchema();
        return url;
    }

    @Override
    void dropDatabase() throws Exception {
        TestDatabases.dropPostgresSchema(url);
    }

    @Test
    void twoGatewaysHammeringOneAccountNeverReserveBeyondTheAllowance() throws Exception {
        String id = stakedAccount(1); // 1,000,000 µUSD today
        try (Db second = Db.open(url, 4)) {
            Ledger other = new Ledger(second, LedgerConfig.defaults(), clock);
            Ledger[] gateways = {ledger, other};
            ExecutorService pool = Executors.newFixedThreadPool(8);
            AtomicLong granted = new AtomicLong();
            AtomicInteger refused = new AtomicInteger();
            AtomicInteger posted = new AtomicInteger();
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int thread = t;
                futures.add(pool.submit(() -> {
                    for (int i = 0; i < 40; i++) {
                        Ledger g = gateways[(thread + i) % 2];
                        String rid = "t" + thread + "-" + i;
                        try {
                            g.reserve(rid, id, null, 7_919);
                            granted.addAndGet(7_919);
                            if (i % 3 == 0) {
                                g.post(rid, usage("job-" + rid, 5_000));
                                posted.incrementAndGet();
                            }
                        } catch (GatewayException e) {
                            assertThat(e.kind()).isEqualTo(Kind.RESOURCE_EXHAUSTED);
                            refused.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
            pool.shutdown();
            var balance = ledger.balance(id);
            assertThat(balance.spent() + balance.reserved()).isLessThanOrEqualTo(balance.allowance());
            // 320 attempts of 7,919 µUSD would need 2.5M: the allowance must have run out and refused some.
            assertThat(refused.get()).isPositive();
            // Every µUSD granted is still held (reserved or spent) except what posting gave back: 7,919 − 5,000 per post.
            long returned = (7_919L - 5_000L) * posted.get();
            assertThat(granted.get()).isEqualTo(balance.spent() + balance.reserved() + returned);
            assertThat(granted.get()).isLessThanOrEqualTo(balance.allowance() + returned);
            assertThat(other.invariantViolations()).isEmpty();
        }
    }

    @Test
    void twoGatewaysLeasingOneAccountNeverSpendBeyondTheAllowanceNorDeadlock() throws Exception {
        String id = stakedAccount(1); // 1,000,000 µUSD today
        try (Db second = Db.open(url, 4)) {
            Ledger[] gateways = {new Ledger(db, LedgerConfig.defaults(), clock), new Ledger(second, LedgerConfig.defaults(), clock)};
            LeasedCredit[] leases = {gateways[0].useLeases("00000000000000a1", LeasedCredit.Policy.defaults()),
                    gateways[1].useLeases("00000000000000b2", LeasedCredit.Policy.defaults())};
            ExecutorService pool = Executors.newFixedThreadPool(8);
            AtomicInteger refused = new AtomicInteger();
            AtomicLong charged = new AtomicLong();
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int thread = t;
                futures.add(pool.submit(() -> {
                    for (int i = 0; i < 60; i++) {
                        Ledger g = gateways[(thread + i) % 2];
                        String rid = "l" + thread + "-" + i;
                        try {
                            CallHold hold = g.holdForCall(rid, id, null, 7_919);
                            if (i % 5 == 4) {
                                g.release(hold); // never reached a node
                                continue;
                            }
                            g.recordingHold(hold, sql -> null); // the call's first job
                            if (i % 3 != 0) {
                                charged.addAndGet(g.post(rid, usage("job-" + rid, 5_000)).charged());
                            } else {
                                g.release(hold);
                            }
                        } catch (GatewayException e) {
                            assertThat(e.kind()).isEqualTo(Kind.RESOURCE_EXHAUSTED);
                            refused.incrementAndGet();
                        }
                        if (i % 10 == 0) {
                            leases[thread % 2].returnIdle();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
            pool.shutdown();
            var raw = ledger.balance(id);
            assertThat(raw.spent() + raw.reserved()).isLessThanOrEqualTo(raw.allowance());
            assertThat(raw.spent()).isEqualTo(charged.get());
            assertThat(refused.get()).as("the allowance ran out").isPositive();
            assertThat(ledger.invariantViolations()).isEmpty();
            leases[0].returnAll();
            leases[1].returnAll();
            assertThat(ledger.balance(id).reserved()).isZero();
        }
    }
}
