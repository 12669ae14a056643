package io.diem.gateway.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.diem.gateway.ledger.TestDatabases;
import io.diem.v1.GenerateRequest;
import io.diem.v1.InferenceGrpc;
import io.diem.v1.SamplingParams;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Booking stalled in the ledger (the usage table locked by another transaction) must not stall the
 * node: its heartbeats keep it healthy and its next job's tokens stream to their caller; the stalled
 * receipts are booked once the ledger moves again. (Booking on the session's stream thread would hold
 * up every later message of that node.)
 */
class SlowBookingPostgresTest {

    @TempDir
    Path dir;

    private static GenerateRequest request() {
        return GenerateRequest.newBuilder().setModel("tiny").setPrompt("The node agent")
                .setSampling(SamplingParams.newBuilder().setMaxTokens(4).setTemperature(0)).build();
    }

    @Test
    void aNodeWhoseBookingIsStuckStaysHealthyAndKeepsServing() throws Exception {
        String url = TestDatabases.postgresSchema();
        try (LocalCluster cluster = new LocalCluster(dir, url, Duration.ofMinutes(5), 3)) {
            cluster.startAgent("a1");
            String node = cluster.nodeIdOf("a1");
            cluster.approveWhenRegistered(node);
            cluster.price(0, 1_000_000, 0);
            String[] first = cluster.stakedAccount(10_000_000);
            String[] second = cluster.stakedAccount(10_000_000); // another account: its credit rows are not the stuck ones

            try (Connection blocker = DriverManager.getConnection(url)) {
                blocker.setAutoCommit(false);
                try (Statement s = blocker.createStatement()) {
                    s.execute("LOCK TABLE usage_records IN EXCLUSIVE MODE"); // bookings now wait
                }
                InferenceGrpc.newBlockingStub(cluster.as(first[1])).withDeadlineAfter(60, TimeUnit.SECONDS).generate(request())
                        .forEachRemaining(r -> {});
                // The first call's receipt arrives and its booking waits on the lock.
                await().atMost(Duration.ofSeconds(20)).until(() -> waitingLocks(url) > 0);

                long start = System.nanoTime();
                StringBuilder streamed = new StringBuilder();
                InferenceGrpc.newBlockingStub(cluster.as(second[1])).withDeadlineAfter(20, TimeUnit.SECONDS).generate(request())
                        .forEachRemaining(r -> streamed.append(r.hasDelta() ? "d" : "f"));
                assertThat(streamed.toString()).endsWith("f").contains("d");
                assertThat(System.nanoTime() - start).as("a call while booking is stuck").isLessThan(TimeUnit.SECONDS.toNanos(15));
                Thread.sleep(4_000); // past the 3 s health timeout: only heartbeats keep the node in the pool
                assertThat(cluster.gateway.picker().eligible()).extracting(n -> n.nodeId()).contains(node);
                assertThat(cluster.ledger.usage(first[0], 10, "")).isEmpty(); // still stuck
                blocker.rollback();
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> cluster.ledger.usage(first[0], 10, "").size() == 1
                    && cluster.ledger.usage(second[0], 10, "").size() == 1);
            assertThat(cluster.ledger.invariantViolations()).isEmpty();
        }
    }

    /** Backends of this database waiting for a lock. */
    private static long waitingLocks(String url) throws Exception {
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_locks WHERE NOT granted")) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
