package io.diem.bench;

import io.diem.gateway.GatewayServer;
import io.diem.gateway.call.Jobs;
import io.diem.gateway.cli.Bootstrap;
import io.diem.gateway.cli.CtlOutput;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerConfig;
import io.diem.gateway.ledger.LedgerViews;
import io.diem.gateway.ledger.Pricing;
import io.diem.gateway.nodes.TicketKeys;
import io.diem.gateway.store.Db;
import io.diem.sign.TicketMinter;
import io.diem.v1.ExecuteRequest;
import io.diem.v1.GenerateRequest;
import io.diem.v1.InferenceGrpc;
import io.diem.v1.JobTicket;
import io.diem.v1.NodeAgentGrpc;
import io.diem.v1.SamplingParams;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Gateway overhead: the same one-token call made through the gateway (auth, reservation, dispatch,
 * relay) and straight to the agent with a ticket minted here, alternating, on one agent process and
 * a tiny model; reports p50/p99 of each and their difference, then admitted calls/s from 8 clients.
 * Warm-up: WARMUP alternating pairs, then a probe of 200 pairs, then WARMUP pairs again and a second
 * probe; both probes are printed so a reader sees that the second warm-up changed nothing (the JIT
 * settles after a few thousand calls; 100 warm-up pairs used to report 7x the warm overhead).
 * Run by scripts/bench-gateway.sh.
 *
 * <pre>java -cp diem-gateway.jar:diem-bench.jar io.diem.bench.GatewayBenchmark AGENT_JAR MODEL_DIR CALLS [WARMUP]</pre>
 */
public final class GatewayBenchmark {

    private GatewayBenchmark() {}

    public static void main(String[] args) throws Exception {
        Path agentJar = Path.of(args[0]);
        Path model = Path.of(args[1]);
        int calls = args.length > 2 ? Integer.parseInt(args[2]) : 1000;
        int warmup = args.length > 3 ? Integer.parseInt(args[3]) : 3000;
        String postgres = args.length > 4 ? args[4] : null; // else the embedded H2 ledger
        Path dir = Files.createTempDirectory("gateway-bench");
        Process agent = null;
        BenchSchema schema = postgres == null ? null : BenchSchema.create(postgres);
        String url = schema == null ? Db.h2Url(dir) : schema.url();
        System.out.println("ledger: " + (postgres == null ? "H2 (embedded)" : "PostgreSQL"));
        try (Db db = Db.open(url, 16)) {
            Ledger ledger = new Ledger(db, LedgerConfig.defaults(), Clock.systemUTC());
            Bootstrap.adminKeyIfEmpty(ledger, dir.resolve("admin.key"));
            GatewayServer.Settings d = GatewayServer.Settings.defaults();
            GatewayServer gateway = new GatewayServer(Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create()), ledger,
                    new GatewayServer.Settings("127.0.0.1", 0, Duration.ofSeconds(1), Duration.ofSeconds(5), d.receiptTtl(), false,
                            d.epochCloseDelay(), 7000, d.limits(), dir, d.leases())).start();
            int agentPort = freePort();
            agent = new ProcessBuilder("java", "--add-modules", "jdk.incubator.vector", "-jar", agentJar.toString(), "serve",
                    "--model", "tiny=" + model, "--state-dir", dir.resolve("agent").toString(), "--gateway-insecure", "--gateway",
                    "127.0.0.1:" + gateway.port(), "--port", String.valueOf(agentPort), "--metrics-port", String.valueOf(freePort()),
                    "--engine", "cpu", "--threads", "1", "--queue", "64")
                    .redirectErrorStream(true).redirectOutput(dir.resolve("agent.log").toFile()).start();
            String nodeId = null;
            for (int i = 0; i < 300 && nodeId == null; i++) {
                Thread.sleep(100);
                nodeId = gateway.nodes().nodes().stream().map(n -> n.nodeId()).findFirst().orElse(null);
            }
            if (nodeId == null) {
                throw new IllegalStateException("agent did not register; see " + dir.resolve("agent.log"));
            }
            gateway.nodes().approve(nodeId);
            while (gateway.picker().eligible().isEmpty()) {
                Thread.sleep(50);
            }
            ledger.setPrice(new Pricing("tiny", 100_000, 400_000, 500));
            String account = ledger.createAccount("bench").accountId();
            ledger.depositVvv(account, 1_000_000_000_000L);
            ledger.stakeVvv(account, 1_000_000_000_000L);
            ledger.mint(account, 1_000_000_000L, 0);
            ledger.stakeDiem(account, 1_000_000_000L);
            String key = ledger.createKey(account, LedgerViews.Scope.INFERENCE, 0, "bench").secret();

            ManagedChannel gw = Grpc.newChannelBuilder("127.0.0.1:" + gateway.port(), InsecureChannelCredentials.create()).build();
            ManagedChannel direct = Grpc.newChannelBuilder("127.0.0.1:" + agentPort, InsecureChannelCredentials.create()).build();
            var viaGateway = InferenceGrpc.newBlockingStub(ClientInterceptors.intercept(gw, CtlOutput.bearer(key)));
            var toAgent = NodeAgentGrpc.newBlockingStub(direct);
            GenerateRequest request = GenerateRequest.newBuilder().setModel("tiny").setPrompt("hi")
                    .setSampling(SamplingParams.newBuilder().setMaxTokens(1).setTemperature(0)).build();
            String node = nodeId;
            // Direct calls need tickets this gateway knows about (or their receipts would flag the node):
            // register each direct job, with its reservation, before any timing starts.
            Jobs jobs = new Jobs(ledger.tx(), Clock.systemUTC());
            TicketKeys ticketKeys = new TicketKeys(dir.resolve("ticket.secret"), ledger.tx());
            java.util.ArrayDeque<io.diem.v1.SignedTicket> tickets = new java.util.ArrayDeque<>();
            for (int i = 0; i < calls + 2 * warmup + 400; i++) {
                String job = "direct-" + UUID.randomUUID();
                ledger.reserve(job, account, null, 1_000);
                long now = System.currentTimeMillis() * 1000;
                jobs.insert(new Jobs.Job(job, job, account, null, node, "tiny", 64, 1, 5_000_000, now,
                        Jobs.State.DISPATCHED, true, 0, 1, now));
                // Its relay record, as the dispatcher writes one when a stream ends: booking waits for it otherwise.
                jobs.recordRelayed(job, 1, 1, true);
                tickets.add(TicketMinter.mint(ticketKeys.forNode(node), JobTicket.newBuilder().setJobId(job).setNodeId(node)
                        .setAccountRef(job).setModel("tiny").setMaxPromptTokens(64).setMaxCompletionTokens(1).setGpuMicrosLimit(5_000_000)
                        .setIssuedAtUnixMicros(now).setExpiresAtUnixMicros(now + 600_000_000L).build()));
            }
            Runnable throughGateway = () -> viaGateway.withDeadlineAfter(30, TimeUnit.SECONDS).generate(request).forEachRemaining(r -> {});
            Runnable straight = () -> toAgent.withDeadlineAfter(30, TimeUnit.SECONDS).execute(ExecuteRequest.newBuilder()
                    .setTicket(tickets.poll()).setRequest(request).build()).forEachRemaining(r -> {});
            for (int round = 1; round <= 2; round++) {
                for (int i = 0; i < warmup; i++) { // warm up both paths
                    throughGateway.run();
                    straight.run();
                }
                long[][] probe = alternate(200, throughGateway, straight);
                System.out.printf("after warm-up %d (%d pairs): overhead p50 %6.2f ms  p99 %6.2f ms%n", round, warmup * round,
                        p(probe[0], 50) - p(probe[1], 50), p(probe[0], 99) - p(probe[1], 99));
            }
            long[][] measured = alternate(calls, throughGateway, straight);
            long[] g = measured[0];
            long[] s = measured[1];
            System.out.printf("latency of a 1-token call (%d each, alternating):%n", calls);
            System.out.printf("  through gateway  p50 %6.2f ms  p99 %6.2f ms%n", p(g, 50), p(g, 99));
            System.out.printf("  direct to agent  p50 %6.2f ms  p99 %6.2f ms%n", p(s, 50), p(s, 99));
            System.out.printf("  gateway overhead p50 %6.2f ms  p99 %6.2f ms%n", p(g, 50) - p(s, 50), p(g, 99) - p(s, 99));

            ExecutorService clients = Executors.newFixedThreadPool(8);
            AtomicLong done = new AtomicLong();
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            long start = System.nanoTime();
            List<Future<?>> futures = new ArrayList<>();
            for (int c = 0; c < 8; c++) {
                futures.add(clients.submit(() -> {
                    while (System.nanoTime() < end) {
                        throughGateway.run();
                        done.incrementAndGet();
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
            clients.shutdown();
            System.out.printf("admitted calls through the gateway, 8 clients: %.0f calls/s%n", done.get() / ((System.nanoTime() - start) / 1e9));
            gw.shutdownNow();
            direct.shutdownNow();
            gateway.stop(2);
        } finally {
            if (agent != null) {
                agent.destroy();
                agent.waitFor(20, TimeUnit.SECONDS);
            }
            if (schema != null) {
                schema.drop();
            }
        }
        System.exit(0);
    }

    /** {@code n} alternating pairs: {through gateway, direct} latencies in ns, each sorted. */
    private static long[][] alternate(int n, Runnable throughGateway, Runnable straight) {
        long[] g = new long[n];
        long[] s = new long[n];
        for (int i = 0; i < n; i++) {
            long t0 = System.nanoTime();
            throughGateway.run();
            long t1 = System.nanoTime();
            straight.run();
            long t2 = System.nanoTime();
            g[i] = t1 - t0;
            s[i] = t2 - t1;
        }
        Arrays.sort(g);
        Arrays.sort(s);
        return new long[][] {g, s};
    }

    private static double p(long[] sorted, int percentile) {
        return sorted[Math.min(sorted.length - 1, sorted.length * percentile / 100)] / 1e6;
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
