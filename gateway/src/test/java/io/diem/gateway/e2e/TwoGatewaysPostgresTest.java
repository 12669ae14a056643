package io.diem.gateway.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.diem.gateway.GatewayServer;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerConfig;
import io.diem.gateway.ledger.TestDatabases;
import io.diem.gateway.store.Db;
import io.diem.v1.GenerateRequest;
import io.diem.v1.InferenceGrpc;
import io.diem.v1.SamplingParams;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two gateways sharing one PostgreSQL ledger, one node, one account under concurrent load. */
class TwoGatewaysPostgresTest {

    @TempDir
    Path dir;

    @Test
    void concurrentCallsThroughTwoGatewaysNeverSpendBeyondTheAllowance() throws Exception {
        String url = TestDatabases.postgresSchema();
        try (LocalCluster cluster = new LocalCluster(dir, url, Duration.ofMinutes(5), 3);
                Db db2 = Db.open(url, 8)) {
            Ledger ledger2 = new Ledger(db2, LedgerConfig.defaults(), Clock.systemUTC());
            GatewayServer.Settings d = GatewayServer.Settings.defaults();
            GatewayServer second = new GatewayServer(Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create()), ledger2,
                    new GatewayServer.Settings("127.0.0.1", 0, Duration.ofSeconds(1), Duration.ofSeconds(3), d.receiptTtl(), false,
                            d.epochCloseDelay(), 7000, d.limits(), dir.resolve("second"), d.leases())).start();
            ManagedChannel channel2 = Grpc.newChannelBuilder("127.0.0.1:" + second.port(), InsecureChannelCredentials.create()).build();
            try {
                cluster.startAgent("a1", "127.0.0.1:" + second.port()); // one session with each gateway
                cluster.approveWhenRegistered(cluster.nodeIdOf("a1"));
                cluster.price(0, 5_000_000_000L, 0); // 5,000 µUSD per completion token
                String[] app = cluster.stakedAccount(100_000); // 100,000 µUSD today: room for 2 calls of 8 tokens
                await().atMost(Duration.ofSeconds(10)).until(() -> !second.picker().eligible().isEmpty());
                var stubs = List.of(InferenceGrpc.newBlockingStub(cluster.as(app[1])),
                        InferenceGrpc.newBlockingStub(ClientInterceptors.intercept(channel2, io.diem.gateway.cli.CtlOutput.bearer(app[1]))));
                ExecutorService pool = Executors.newFixedThreadPool(8);
                AtomicInteger admitted = new AtomicInteger();
                AtomicInteger refused = new AtomicInteger();
                List<Future<?>> futures = new ArrayList<>();
                for (int i = 0; i < 16; i++) {
                    var stub = stubs.get(i % 2).withDeadlineAfter(60, TimeUnit.SECONDS);
                    futures.add(pool.submit(() -> {
                        try {
                            var it = stub.generate(GenerateRequest.newBuilder().setModel("tiny").setPrompt("go")
                                    .setSampling(SamplingParams.newBuilder().setMaxTokens(8).setSeed(1)).build());
                            while (it.hasNext()) {
                                it.next();
                            }
                            admitted.incrementAndGet();
                        } catch (StatusRuntimeException e) {
                            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                            refused.incrementAndGet();
                        }
                        return null;
                    }));
                }
                for (Future<?> f : futures) {
                    f.get();
                }
                pool.shutdown();
                // 40,000 µUSD may be reserved per call against 100,000: only a few calls can ever be admitted
                // (exactly how many depends on how fast receipts turn reservations into smaller charges).
                assertThat(admitted.get()).isBetween(1, 6);
                assertThat(refused.get()).isEqualTo(16 - admitted.get()).isPositive();
                await().atMost(Duration.ofSeconds(20)).until(() -> cluster.ledger.usage(app[0], 100, "").size() == admitted.get());
                var balance = cluster.ledger.balance(app[0]);
                assertThat(balance.spent() + balance.reserved()).isLessThanOrEqualTo(balance.allowance());
                assertThat(ledger2.invariantViolations()).isEmpty();

                // The agent's first gateway goes away: its receipts now ship on the session with the second.
                String[] later = cluster.stakedAccount(100_000);
                cluster.gateway.stop(2);
                var it = InferenceGrpc.newBlockingStub(ClientInterceptors.intercept(channel2, io.diem.gateway.cli.CtlOutput.bearer(later[1])))
                        .withDeadlineAfter(60, TimeUnit.SECONDS).generate(GenerateRequest.newBuilder().setModel("tiny").setPrompt("go")
                                .setSampling(SamplingParams.newBuilder().setMaxTokens(8).setSeed(1)).build());
                while (it.hasNext()) {
                    it.next();
                }
                await().atMost(Duration.ofSeconds(20)).until(() -> ledger2.usage(later[0], 10, "").size() == 1);
            } finally {
                channel2.shutdownNow();
                second.stop(2);
            }
        } finally {
            TestDatabases.dropPostgresSchema(url);
        }
    }
}
