package io.diem.bench;

import io.diem.agent.serve.AgentNode;
import io.diem.gateway.GatewayServer;
import io.diem.gateway.cli.Bootstrap;
import io.diem.gateway.cli.CtlOutput;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerConfig;
import io.diem.gateway.ledger.LedgerViews;
import io.diem.gateway.ledger.Pricing;
import io.diem.gateway.store.Db;
import io.diem.v1.GenerateRequest;
import io.diem.v1.GenerateResponse;
import io.diem.v1.InferenceGrpc;
import io.diem.v1.SamplingParams;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * Capacity of the gateway: 1-token calls from N concurrent clients through one or two gateways to a
 * stand-in node ({@link StandInNode}: the real agent with devices that compute nothing), on the
 * embedded H2 ledger or PostgreSQL. Per level: admitted calls/s, receipts booked/s in the same
 * window, latency, refusals by status; then, once every receipt is booked, the money checks: Σ charges
 * = Σ costs shown to clients, no account over its allowance, ledger invariants. With a soak time, it
 * then runs at one level for that long and prints every 10 s: calls/s, booking backlog, healthy nodes,
 * UNAVAILABLE refusals and the JVM's RSS (gateways and stand-in node share it).
 *
 * <pre>GatewayCapacityBenchmark h2|JDBC_URL GATEWAYS CLIENTS[,CLIENTS…] SECONDS [SOAK_SECONDS SOAK_CLIENTS]</pre>
 */
public final class GatewayCapacityBenchmark {

    /** 100 DIEM staked per account: $100 a day, far more than a run spends (worst cases included). */
    private static final long ALLOWANCE_MICRO_USD = 100_000_000L;

    public static void main(String[] args) throws Exception {
        String database = args[0];
        int gatewayCount = Integer.parseInt(args[1]);
        int[] levels = Arrays.stream(args[2].split(",")).mapToInt(Integer::parseInt).toArray();
        int seconds = Integer.parseInt(args[3]);
        int soakSeconds = args.length > 4 ? Integer.parseInt(args[4]) : 0;
        int soakClients = args.length > 5 ? Integer.parseInt(args[5]) : 32;
        Path dir = Files.createTempDirectory("capacity-bench");
        BenchSchema schema = database.equals("h2") ? null : BenchSchema.create(database);
        String url = schema == null ? Db.h2Url(dir.resolve("ledger")) : schema.url();
        List<Db> dbs = new ArrayList<>();
        List<GatewayServer> gateways = new ArrayList<>();
        AgentNode node = null;
        try {
            GatewayServer.Settings d = GatewayServer.Settings.defaults();
            for (int g = 0; g < gatewayCount; g++) {
                Db db = Db.open(url, 16);
                dbs.add(db);
                Ledger ledger = new Ledger(db, LedgerConfig.defaults(), Clock.systemUTC());
                if (g == 0) {
                    Bootstrap.adminKeyIfEmpty(ledger, dir.resolve("admin.key"));
                }
                gateways.add(new GatewayServer(Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create()), ledger,
                        new GatewayServer.Settings("127.0.0.1", 0, Duration.ofSeconds(1), Duration.ofSeconds(5), d.receiptTtl(), false,
                                d.epochCloseDelay(), 7000, d.limits(), dir.resolve("gateway" + g), d.leases())).start());
            }
            node = StandInNode.start(dir, gateways.stream().map(g -> "127.0.0.1:" + g.port()).toList(), 8);
            for (GatewayServer g : gateways) {
                while (g.nodes().nodes().isEmpty()) {
                    Thread.sleep(20);
                }
            }
            gateways.get(0).nodes().approve(node.nodeId());
            for (GatewayServer g : gateways) {
                while (g.picker().eligible().isEmpty()) {
                    g.nodes().invalidate();
                    Thread.sleep(20);
                }
            }
            Ledger ledger = new Ledger(dbs.get(0), LedgerConfig.defaults(), Clock.systemUTC());
            ledger.setPrice(new Pricing("tiny", 100_000, 400_000, 500));
            int maxClients = Math.max(soakClients, Arrays.stream(levels).max().orElse(8));
            List<String> keys = new ArrayList<>();
            for (int a = 0; a < Math.max(8, maxClients / 8); a++) { // at most 8 clients per key: under its 16 concurrent calls
                String account = ledger.createAccount("bench" + a).accountId();
                ledger.depositVvv(account, 1_000_000_000_000L);
                ledger.stakeVvv(account, 1_000_000_000_000L);
                ledger.mint(account, ALLOWANCE_MICRO_USD, 0);
                ledger.stakeDiem(account, ALLOWANCE_MICRO_USD);
                keys.add(ledger.createKey(account, LedgerViews.Scope.INFERENCE, 0, "bench").secret());
            }
            List<ManagedChannel> channels = gateways.stream().map(g -> Grpc.newChannelBuilder("127.0.0.1:" + g.port(),
                    InsecureChannelCredentials.create()).build()).toList();
            Load load = new Load(channels, keys);
            System.out.printf("ledger %s, %d gateway(s), stand-in node with 8 instant devices, %d accounts; %d cores%n",
                    database.equals("h2") ? "H2 (embedded)" : "PostgreSQL", gatewayCount, keys.size(),
                    Runtime.getRuntime().availableProcessors());
            load.run(8, 5, null, ledger); // warm-up
            waitForBookings(ledger, load);
            System.out.println("clients  admitted/s  booked/s  p50 ms  p99 ms  refused                      drained  checks");
            for (int clients : levels) {
                Level level = load.run(clients, seconds, null, ledger);
                double drained = waitForBookings(ledger, load);
                System.out.printf("%7d  %10.0f  %8.0f  %6.2f  %6.2f  %-27s  %5.1f s  %s%n", clients, level.callsPerSecond(),
                        level.bookedPerSecond(), level.p50Ms(), level.p99Ms(), level.refused(), drained, checks(ledger, load));
            }
            if (soakSeconds > 0) {
                System.out.printf("soak: %d clients for %d s%n", soakClients, soakSeconds);
                System.out.println("    t  calls/s  backlog  healthy nodes  UNAVAILABLE  RSS MiB");
                load.run(soakClients, soakSeconds, gateways, ledger);
                double drained = waitForBookings(ledger, load);
                System.out.printf("soak done: drained in %.1f s; %s%n", drained, checks(ledger, load));
            }
            channels.forEach(ManagedChannel::shutdownNow);
        } finally {
            if (node != null) {
                node.drain(Duration.ofSeconds(2));
            }
            for (GatewayServer g : gateways) {
                g.stop(1);
            }
            dbs.forEach(Db::close);
            if (schema != null) {
                schema.drop();
            }
        }
        System.exit(0);
    }

    /** One level's figures. */
    record Level(double callsPerSecond, double bookedPerSecond, double p50Ms, double p99Ms, String refused) {}

    /** The clients: calls round-robin over gateways and keys; totals of what succeeded and what was shown. */
    static final class Load {
        final List<ManagedChannel> channels;
        final List<String> keys;
        final LongAdder admitted = new LongAdder();
        final LongAdder shownCost = new LongAdder();

        Load(List<ManagedChannel> channels, List<String> keys) {
            this.channels = channels;
            this.keys = keys;
        }

        Level run(int clients, int seconds, List<GatewayServer> soak, Ledger ledger) throws Exception {
            GenerateRequest request = GenerateRequest.newBuilder().setModel("tiny").setPrompt("hi")
                    .setSampling(SamplingParams.newBuilder().setMaxTokens(1).setTemperature(0)).build();
            Map<Status.Code, LongAdder> refused = new ConcurrentHashMap<>();
            ExecutorService pool = Executors.newFixedThreadPool(clients);
            long start = System.nanoTime();
            long end = start + TimeUnit.SECONDS.toNanos(seconds);
            long bookedBefore = booked(ledger)[0];
            LongAdder calls = new LongAdder();
            List<Future<long[]>> futures = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                int client = c;
                futures.add(pool.submit(() -> {
                    var stub = InferenceGrpc.newBlockingStub(ClientInterceptors.intercept(channels.get(client % channels.size()),
                            CtlOutput.bearer(keys.get(client % keys.size()))));
                    long[] latencies = new long[1 << 16];
                    int n = 0;
                    while (System.nanoTime() < end) {
                        long t0 = System.nanoTime();
                        try {
                            var it = stub.withDeadlineAfter(30, TimeUnit.SECONDS).generate(request);
                            long cost = 0;
                            while (it.hasNext()) {
                                GenerateResponse r = it.next();
                                if (r.hasFinal()) {
                                    cost = r.getFinal().getUsage().getCostMicroUsd();
                                }
                            }
                            shownCost.add(cost);
                            admitted.increment();
                            calls.increment();
                            if (n < latencies.length) {
                                latencies[n++] = System.nanoTime() - t0;
                            }
                        } catch (StatusRuntimeException e) {
                            refused.computeIfAbsent(e.getStatus().getCode(), k -> new LongAdder()).increment();
                        }
                    }
                    return Arrays.copyOf(latencies, n);
                }));
            }
            if (soak != null) {
                long last = calls.sum();
                for (int t = 10; t <= seconds; t += 10) {
                    Thread.sleep(Math.max(0, start + TimeUnit.SECONDS.toNanos(t) - System.nanoTime()) / 1_000_000);
                    long now = calls.sum();
                    long healthy = soak.stream().mapToLong(g -> g.picker().eligible().size()).min().orElse(0);
                    LongAdder unavailable = refused.get(Status.Code.UNAVAILABLE);
                    System.out.printf("%5d  %7.0f  %7d  %13d  %11d  %7d%n", t, (now - last) / 10.0, admitted.sum() - booked(ledger)[0],
                            healthy, unavailable == null ? 0 : unavailable.sum(), rssMiB());
                    last = now;
                }
            }
            List<Long> all = new ArrayList<>();
            for (Future<long[]> f : futures) {
                for (long l : f.get()) {
                    all.add(l);
                }
            }
            double elapsed = (System.nanoTime() - start) / 1e9;
            long bookedAfter = booked(ledger)[0];
            pool.shutdown();
            long[] sorted = all.stream().mapToLong(Long::longValue).sorted().toArray();
            StringBuilder why = new StringBuilder();
            refused.forEach((code, count) -> why.append(why.length() == 0 ? "" : " ").append(code).append('=').append(count.sum()));
            return new Level(calls.sum() / elapsed, (bookedAfter - bookedBefore) / elapsed, percentile(sorted, 50),
                    percentile(sorted, 99), why.length() == 0 ? "none" : why.toString());
        }
    }

    /** Seconds until every admitted call's receipt is booked (gives up after 120 s). */
    private static double waitForBookings(Ledger ledger, Load load) throws InterruptedException {
        long start = System.nanoTime();
        while (booked(ledger)[0] < load.admitted.sum() && System.nanoTime() - start < TimeUnit.SECONDS.toNanos(120)) {
            Thread.sleep(100);
        }
        return (System.nanoTime() - start) / 1e9;
    }

    /** The money checks after a run: booked = admitted, Σ charges = Σ shown, nobody over the allowance, invariants. */
    private static String checks(Ledger ledger, Load load) {
        long[] booked = booked(ledger);
        long over = ledger.tx().run(sql -> sql.number("SELECT COUNT(*) FROM account_days d JOIN accounts a ON a.account_id = "
                + "d.account_id WHERE d.spent + d.reserved > a.diem_staked"));
        List<String> violations = ledger.invariantViolations();
        boolean ok = booked[0] == load.admitted.sum() && booked[1] == load.shownCost.sum() && over == 0 && violations.isEmpty();
        return (ok ? "ok" : "FAILED") + " (booked " + booked[0] + "/" + load.admitted.sum() + ", charged " + booked[1] + " = shown "
                + load.shownCost.sum() + " µUSD, over allowance " + over + ", invariants " + violations.size() + ")";
    }

    private static long[] booked(Ledger ledger) {
        return ledger.tx().run(sql -> sql.one("SELECT COUNT(*), COALESCE(SUM(cost), 0) FROM usage_records",
                rs -> new long[] {rs.getLong(1), rs.getLong(2)}).orElseThrow());
    }

    private static double percentile(long[] sorted, int p) {
        return sorted.length == 0 ? 0 : sorted[Math.min(sorted.length - 1, sorted.length * p / 100)] / 1e6;
    }

    private static long rssMiB() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
                }
            }
        } catch (java.io.IOException e) {
            return -1;
        }
        return -1;
    }
}
