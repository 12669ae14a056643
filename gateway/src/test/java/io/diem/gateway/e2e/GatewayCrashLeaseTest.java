package io.diem.gateway.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.diem.gateway.cli.CtlOutput;
import io.diem.gateway.ledger.TestDatabases;
import io.diem.v1.GenerateRequest;
import io.diem.v1.InferenceGrpc;
import io.diem.v1.SamplingParams;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A gateway killed with SIGKILL while it holds a credit lease: the lease stays open in the shared
 * PostgreSQL ledger (the credit is held, not lost), and within the documented bound (the lease's
 * life, here 9 s, plus the surviving gateway's 5 s sweep) the account's credit is whole again: nothing
 * reserved, spent equal to the charges booked from the node's receipts.
 */
class GatewayCrashLeaseTest {

    @TempDir
    Path dir;

    @Test
    void aKilledGatewaysLeaseReturnsToTheAccountWithinTheBound() throws Exception {
        String url = TestDatabases.postgresSchema();
        Process victim = null;
        try (LocalCluster cluster = new LocalCluster(dir, url, Duration.ofMinutes(5), 3)) {
            int port = LocalCluster.freePort();
            Path data = dir.resolve("victim");
            victim = new ProcessBuilder(LocalCluster.java(), "-cp", System.getProperty("java.class.path"),
                    "io.diem.gateway.cli.GatewayMain", "serve", "--data-dir", data.toString(), "--db", url, "--port",
                    String.valueOf(port), "--metrics-port", "0", "--http-port", "-1", "--auto-close-epochs", "false",
                    "--credit-lease-seconds", "9")
                    .redirectErrorStream(true).redirectOutput(dir.resolve("victim.log").toFile()).start();
            await().atMost(Duration.ofSeconds(60)).until(() -> Files.readString(dir.resolve("victim.log")).contains("listening"));
            cluster.startAgent("a1", "127.0.0.1:" + port); // sessions with both gateways
            cluster.approveWhenRegistered(cluster.nodeIdOf("a1"));
            cluster.price(0, 1_000_000, 0); // 1 µUSD per completion token
            String[] app = cluster.stakedAccount(1_000_000); // $1 today
            ManagedChannel channel = Grpc.newChannelBuilder("127.0.0.1:" + port, InsecureChannelCredentials.create()).build();
            try {
                var stub = InferenceGrpc.newBlockingStub(ClientInterceptors.intercept(channel, CtlOutput.bearer(app[1])));
                await().atMost(Duration.ofSeconds(30)).ignoreException(StatusRuntimeException.class).until(() -> {
                    stub.withDeadlineAfter(30, TimeUnit.SECONDS).generate(GenerateRequest.newBuilder().setModel("tiny")
                            .setPrompt("go").setSampling(SamplingParams.newBuilder().setMaxTokens(4).setSeed(1)).build())
                            .forEachRemaining(r -> {});
                    return true; // UNAVAILABLE until the victim has the node's session: retried
                });
                victim.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // kill -9 within the lease's idle time (2 s)
            } finally {
                channel.shutdownNow();
            }
            String victimId = Files.readString(data.resolve("gateway.id")).trim();
            long held = cluster.ledger.tx().run(sql -> sql.number("SELECT COALESCE(SUM(granted - carved), 0) FROM credit_leases "
                    + "WHERE gateway_id = ? AND state = 'open'", victimId));
            assertThat(held).as("credit the killed gateway held in its lease").isPositive();
            assertThat(cluster.ledger.balance(app[0]).reserved()).isGreaterThanOrEqualTo(held);

            long start = System.nanoTime();
            await().atMost(Duration.ofSeconds(9 + 5 + 10)).pollInterval(Duration.ofMillis(200)).until(() -> {
                var b = cluster.ledger.balance(app[0]);
                return b.reserved() == 0 && b.remaining() == b.allowance() - b.spent();
            });
            System.out.printf("credit whole again %.1f s after the kill (bound: 9 s lease + 5 s sweep)%n",
                    (System.nanoTime() - start) / 1e9);
            var b = cluster.ledger.balance(app[0]);
            long charged = cluster.ledger.usage(app[0], 100, "").stream().mapToLong(u -> u.cost()).sum();
            assertThat(b.spent()).isEqualTo(charged);
            long expired = cluster.ledger.tx().run(sql -> sql.number("SELECT COUNT(*) FROM credit_leases WHERE gateway_id = ? "
                    + "AND state = 'expired'", victimId));
            assertThat(expired).isPositive();
            assertThat(cluster.ledger.invariantViolations()).isEmpty();
        } finally {
            if (victim != null) {
                victim.destroyForcibly();
            }
            TestDatabases.dropPostgresSchema(url);
        }
    }
}
