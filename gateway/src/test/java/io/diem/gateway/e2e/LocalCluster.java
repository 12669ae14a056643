package io.diem.gateway.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.diem.gateway.GatewayServer;
import io.diem.gateway.call.CallLimits;
import io.diem.gateway.cli.Bootstrap;
import io.diem.gateway.cli.CtlOutput;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerConfig;
import io.diem.gateway.ledger.LedgerViews;
import io.diem.gateway.ledger.Pricing;
import io.diem.gateway.store.Db;
import io.grpc.Channel;
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
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A gateway in this JVM (real gRPC on a loopback port, real ledger) and node agents as real
 * processes from the agent's jar, for end-to-end tests.
 */
final class LocalCluster implements AutoCloseable {

    static final Path AGENT_JAR = Path.of("..", "agent", "target", "diem-agent.jar").toAbsolutePath().normalize();

    final Path dir;
    final Db db;
    final Ledger ledger;
    final GatewayServer gateway;
    final ManagedChannel channel;
    final List<Process> agents = new ArrayList<>();
    /** Each started agent's metrics port, by name. */
    final java.util.Map<String, Integer> agentMetricsPorts = new java.util.concurrent.ConcurrentHashMap<>();
    final String adminKey;

    LocalCluster(Path dir, String jdbcUrl, Duration receiptTtl, int dispatchAttempts) throws Exception {
        assertThat(AGENT_JAR).as("the agent jar (the reactor builds it before the gateway's tests)").exists();
        this.dir = dir;
        this.db = Db.open(jdbcUrl, 16);
        this.ledger = new Ledger(db, LedgerConfig.defaults(), Clock.systemUTC());
        Path keyFile = dir.resolve("admin.key");
        this.adminKey = Bootstrap.adminKeyIfEmpty(ledger, keyFile).map(p -> read(p)).orElseGet(() -> ledger.createKey(
                ledger.createAccount("admin2").accountId(), LedgerViews.Scope.ADMIN, 0, "second gateway").secret());
        GatewayServer.Settings d = GatewayServer.Settings.defaults();
        CallLimits l = d.limits();
        this.gateway = new GatewayServer(Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create()), ledger,
                new GatewayServer.Settings("127.0.0.1", 0, Duration.ofSeconds(1), Duration.ofSeconds(3), receiptTtl, false,
                        d.epochCloseDelay(), 7000, new CallLimits(l.maxPromptBytes(), l.maxTokens(), 16,
                                l.maxChatMessages(), l.maxStops(), l.maxStopLength(), 5_000_000L, l.perKeyConcurrency(),
                                l.ticketTtl(), dispatchAttempts), dir.resolve("gateway"), d.leases())).start();
        gateway.startHttp("127.0.0.1", 0, null);
        this.channel = Grpc.newChannelBuilder("127.0.0.1:" + gateway.port(), InsecureChannelCredentials.create()).build();
    }

    private static String read(Path p) {
        try {
            return Files.readString(p).strip();
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    Channel as(String key) {
        return ClientInterceptors.intercept(channel, CtlOutput.bearer(key));
    }

    /** The tiny test model in {@code dir}, written once with the agent's own CLI (for tests without a cluster). */
    record TinyModel(Path dir) {
        Path path() throws Exception {
            Path model = dir.resolve("tiny");
            if (!Files.exists(model.resolve("config.json"))) {
                Process p = new ProcessBuilder(java(), "-jar", AGENT_JAR.toString(), "models", "make-test", "--out", model.toString())
                        .redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                assertThat(p.waitFor()).isZero();
            }
            return model;
        }
    }

    /** Writes the tiny test model with the agent's own CLI (once). */
    Path tinyModel() throws Exception {
        return new TinyModel(dir).path();
    }

    /**
     * Starts an agent process with its own state dir and no listening port at all: it opens its session
     * with this cluster's gateway (and with {@code moreGateways}); returns it (its node id via nodeIdOf).
     */
    Process startAgent(String name, String... moreGateways) throws Exception {
        return startAgent(name, java.util.Map.of(), moreGateways);
    }

    /** As {@link #startAgent(String, String...)}, with more environment for the agent process (e.g. a PATH). */
    Process startAgent(String name, java.util.Map<String, String> env, String... moreGateways) throws Exception {
        Path model = tinyModel();
        int metricsPort = freePort();
        agentMetricsPorts.put(name, metricsPort);
        String gateways = String.join(",", java.util.stream.Stream.concat(java.util.stream.Stream.of("127.0.0.1:" + gateway.port()),
                java.util.Arrays.stream(moreGateways)).toList());
        ProcessBuilder pb = new ProcessBuilder(java(), "--add-modules", "jdk.incubator.vector", "-jar", AGENT_JAR.toString(), "serve",
                "--model", "tiny=" + model, "--state-dir", dir.resolve(name).toString(), "--gateway", gateways, "--gateway-insecure",
                "--no-local-api", "--metrics-port", String.valueOf(metricsPort), "--engine", "cpu", "--threads", "1")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(name + ".log").toFile()));
        pb.environment().putAll(env);
        Process p = pb.start();
        agents.add(p);
        return p;
    }

    /** The node id an agent's state dir holds (waits for the agent to create its key). */
    String nodeIdOf(String name) throws Exception {
        Path key = dir.resolve(name).resolve("node.key");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(key) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        return io.diem.sign.NodeKey.load(key).nodeId();
    }

    /** Waits until the node has registered, approves it, and waits until it is healthy. */
    void approveWhenRegistered(String nodeId) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (gateway.nodes().node(nodeId).isEmpty()) {
            assertThat(System.nanoTime()).as("node %s registers", nodeId).isLessThan(deadline);
            Thread.sleep(50);
        }
        gateway.nodes().approve(nodeId);
        while (gateway.picker().eligible().stream().noneMatch(n -> n.nodeId().equals(nodeId))) {
            assertThat(System.nanoTime()).as("node %s is healthy", nodeId).isLessThan(deadline);
            Thread.sleep(50);
        }
    }

    /** A new account with {@code diemStaked} µDIEM staked and an inference key; returns {accountId, secret}. */
    String[] stakedAccount(long diemStakedMicro) {
        String account = ledger.createAccount("app").accountId();
        ledger.depositVvv(account, 1_000_000_000_000L);
        ledger.stakeVvv(account, 1_000_000_000_000L);
        ledger.mint(account, diemStakedMicro, 0);
        ledger.stakeDiem(account, diemStakedMicro);
        return new String[] {account, ledger.createKey(account, LedgerViews.Scope.INFERENCE, 0, "app").secret()};
    }

    void price(long promptPerMillion, long completionPerMillion, long perGpuSecond) {
        ledger.setPrice(new Pricing("tiny", promptPerMillion, completionPerMillion, perGpuSecond));
    }

    static String java() {
        return ProcessHandle.current().info().command().orElse("java");
    }

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Override
    public void close() throws Exception {
        for (Process p : agents) {
            p.destroy();
        }
        for (Process p : agents) {
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
        channel.shutdownNow();
        gateway.stop(2);
        db.close();
    }
}
