package io.diem.gateway;

import io.diem.common.MetricsHttpServer;
import io.diem.common.ThreadFactories;
import io.diem.common.UnixMicros;
import io.diem.gateway.api.AdminService;
import io.diem.gateway.api.ApiKeyInterceptor;
import io.diem.gateway.api.BalanceHeadersInterceptor;
import io.diem.gateway.api.InferenceService;
import io.diem.gateway.api.NodeSessionService;
import io.diem.gateway.api.RequestMetricsInterceptor;
import io.diem.gateway.api.SessionNodeLink;
import io.diem.gateway.api.StakingService;
import io.diem.gateway.api.StrictRequests;
import io.diem.gateway.api.http.HttpApiServer;
import io.diem.gateway.call.Admission;
import io.diem.gateway.call.CallRecovery;
import io.diem.gateway.call.CallLimits;
import io.diem.gateway.call.Dispatcher;
import io.diem.gateway.call.GenerateCalls;
import io.diem.gateway.call.Jobs;
import io.diem.gateway.ledger.EpochReport;
import io.diem.gateway.ledger.LeasedCredit;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.metrics.GatewayMetrics;
import io.diem.gateway.nodes.NodeDirectory;
import io.diem.gateway.nodes.NodePicker;
import io.diem.gateway.nodes.NodeSessions;
import io.diem.gateway.nodes.TicketKeys;
import io.diem.gateway.settlement.Settlement;
import io.diem.gateway.usage.ReceiptBooking;
import io.diem.v1.NodeState;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The gateway: Inference (gRPC, and the OpenAI-style HTTP API once {@link #startHttp} is called), Staking
 * and Admin behind API-key authentication; NodeRegistry for agents
 * (authenticated by node signatures); health and reflection; the metrics endpoint; and the
 * background work (settling overdue receipts, expiring reservations, closing ended epochs). Takes a
 * {@link ServerBuilder} so tests run it on port 0.
 */
public final class GatewayServer {

    private static final Logger LOG = Logger.getLogger(GatewayServer.class.getName());

    /** Tunables, each a config key of {@code diem-gateway serve}; {@code dataDir} holds the ticket secret (0600) and the gateway's id. */
    public record Settings(String metricsHost, int metricsPort, Duration heartbeatInterval, Duration healthTimeout,
            Duration receiptTtl, boolean autoCloseEpochs, Duration epochCloseDelay, int providerBps,
            CallLimits limits, Path dataDir, LeasedCredit.Policy leases) {

        public static Settings defaults() {
            return new Settings("127.0.0.1", 9470, Duration.ofSeconds(5), Duration.ofSeconds(15), Duration.ofMinutes(5), true,
                    Duration.ofMinutes(15), 7000, CallLimits.defaults(), Path.of("data/gateway"), LeasedCredit.Policy.defaults());
        }
    }

    private final Server server;
    private final Ledger ledger;
    private final Settings settings;
    private final HealthStatusManager health = new HealthStatusManager();
    private final GatewayMetrics metrics = new GatewayMetrics();
    private final NodeDirectory nodes;
    private final NodePicker picker;
    private final NodeSessions sessions;
    private final GenerateCalls calls;
    private HttpApiServer http;
    private final ReceiptBooking booking;
    private final Settlement settlement;
    /** Books receipt batches off the node sessions' stream threads (each session's batches in order). */
    private final java.util.concurrent.ExecutorService bookingThreads =
            Executors.newFixedThreadPool(4, ThreadFactories.daemon("receipt-booking"));
    private final ScheduledExecutorService background =
            Executors.newSingleThreadScheduledExecutor(ThreadFactories.daemon("gateway-background"));
    private MetricsHttpServer metricsServer;
    private final String gatewayId;
    private final LeasedCredit leased;
    private volatile boolean draining;

    public GatewayServer(ServerBuilder<?> builder, Ledger ledger) throws IOException {
        this(builder, ledger, Settings.defaults());
    }

    public GatewayServer(ServerBuilder<?> builder, Ledger ledger, Settings settings) throws IOException {
        this.ledger = ledger;
        this.settings = settings;
        this.nodes = new NodeDirectory(ledger.tx(), ledger.clock(), settings.heartbeatInterval(), settings.healthTimeout());
        this.sessions = new NodeSessions(nodes, ledger.clock());
        this.picker = new NodePicker(nodes, sessions);
        this.gatewayId = CallRecovery.gatewayId(settings.dataDir());
        this.leased = ledger.useLeases(gatewayId, settings.leases());
        TicketKeys ticketKeys = new TicketKeys(settings.dataDir().resolve("ticket.secret"), ledger.tx());
        Jobs jobs = new Jobs(ledger.tx(), ledger.clock());
        this.booking = new ReceiptBooking(ledger, nodes, jobs, metrics);
        this.settlement = new Settlement(ledger, settings.providerBps());
        ApiKeyInterceptor auth = new ApiKeyInterceptor(ledger);
        RequestMetricsInterceptor requests = new RequestMetricsInterceptor(metrics);
        this.calls = new GenerateCalls(new Admission(ledger, picker, metrics, settings.limits(), gatewayId),
                new Dispatcher(ledger, picker, ticketKeys, new SessionNodeLink(sessions), jobs, metrics, settings.limits()));
        InferenceService inference = new InferenceService(ledger, picker, calls);
        this.server = builder
                .addService(StrictRequests.wrap(ServerInterceptors.intercept(inference, new BalanceHeadersInterceptor(ledger), auth,
                        requests)))
                .addService(StrictRequests.wrap(ServerInterceptors.intercept(new StakingService(ledger), auth, requests)))
                .addService(StrictRequests.wrap(ServerInterceptors.intercept(new AdminService(ledger, nodes, settlement), auth, requests)))
                .addService(StrictRequests.wrap(ServerInterceptors.intercept(new NodeSessionService(sessions, nodes, ticketKeys, booking,
                        bookingThreads),
                        NodeSessionService.peerAddress(), requests)))
                .addService(health.getHealthService())
                .addService(ProtoReflectionServiceV1.newInstance())
                .maxInboundMessageSize(16 << 20)
                .maxInboundMetadataSize(64 << 10) // an oversized key reaches authentication and is UNAUTHENTICATED, not a 431
                .build();
        io.micrometer.core.instrument.Timer ledgerLatency = metrics.ledgerTimer("transaction");
        ledger.tx().onTransaction(nanos -> ledgerLatency.record(nanos, TimeUnit.NANOSECONDS));
        ledger.tx().onDatabaseError(metrics::ledgerError);
        metrics.gauge("diem.gateway.reservations.open", "Reservations holding credit (calls in flight or awaiting receipts)",
                ledger::openReservations);
        for (NodeState state : new NodeState[] {NodeState.NODE_STATE_PENDING, NodeState.NODE_STATE_HEALTHY,
                NodeState.NODE_STATE_SILENT, NodeState.NODE_STATE_FLAGGED, NodeState.NODE_STATE_SUSPENDED, NodeState.NODE_STATE_REVOKED}) {
            metrics.gauge("diem.gateway.nodes", "Nodes by state", () -> nodes.nodes().stream()
                    .filter(n -> nodes.state(n) == state).count(), "state", state.name().replace("NODE_STATE_", "").toLowerCase());
        }
    }

    public GatewayServer start() throws IOException, InterruptedException {
        CallRecovery.recover(ledger, gatewayId); // the previous run's calls, before this one takes any
        server.start();
        health.setStatus("", ServingStatus.SERVING);
        metricsServer = new MetricsHttpServer(settings.metricsHost(), settings.metricsPort(), metrics.registry(), () -> !draining);
        background.scheduleWithFixedDelay(() -> safely("receipt settlement", this::settleOverdue), 5, 5, TimeUnit.SECONDS);
        background.scheduleWithFixedDelay(() -> safely("credit lease return", leased::returnIdle), 1, 1, TimeUnit.SECONDS);
        if (settings.autoCloseEpochs()) {
            background.scheduleWithFixedDelay(() -> safely("epoch close", this::closeEndedEpoch), 30, 60, TimeUnit.SECONDS);
        }
        LOG.info("gateway listening on port " + server.getPort() + ", metrics on port " + metricsServer.port());
        return this;
    }

    /**
     * Serves the OpenAI-style HTTP API on {@code bind:port} (0 = any free port) beside gRPC, through
     * the same call path; {@code tls} null means plaintext (the caller has applied the bind rules).
     */
    public HttpApiServer startHttp(String bind, int port, SslContext tls) throws InterruptedException {
        http = new HttpApiServer(bind, port, tls, ledger, picker, calls, metrics);
        return http;
    }

    /** The HTTP API's port; only after {@link #startHttp}. */
    public int httpPort() {
        return http.port();
    }

    private void settleOverdue() {
        int settled = booking.settleOverdue(settings.receiptTtl());
        int expired = ledger.expireReservations();
        int leasesExpired = ledger.expireLeases();
        if (settled + expired + leasesExpired > 0) {
            LOG.info("settled " + settled + " jobs at what was relayed (no receipt), expired " + expired + " reservations and "
                    + leasesExpired + " credit leases of gateways that stopped without returning them");
        }
    }

    private void closeEndedEpoch() {
        long now = ledger.now();
        String yesterday = UnixMicros.day(now - UnixMicros.PER_DAY);
        boolean pastDelay = Math.floorMod(now, UnixMicros.PER_DAY) >= settings.epochCloseDelay().toNanos() / 1000;
        if (pastDelay && settlement.report(yesterday).isEmpty()) {
            EpochReport r = settlement.close(yesterday);
            LOG.info("closed epoch " + r.epoch() + ": fees " + r.fees() + " µUSD, " + r.payouts().size() + " payouts");
        }
    }

    private static void safely(String what, Runnable task) {
        try {
            task.run();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, what + " failed; will retry", e);
        }
    }

    public int port() {
        return server.getPort();
    }

    public int metricsPort() {
        return metricsServer.port();
    }

    public NodeDirectory nodes() {
        return nodes;
    }

    public NodeSessions sessions() {
        return sessions;
    }

    public NodePicker picker() {
        return picker;
    }

    public Settlement settlement() {
        return settlement;
    }

    public ReceiptBooking booking() {
        return booking;
    }

    public GatewayMetrics metrics() {
        return metrics;
    }

    /**
     * Stops taking calls, lets running Generate streams finish for up to {@code graceSeconds}, ends the
     * node sessions, then cuts whatever is left.
     */
    public void stop(long graceSeconds) throws InterruptedException {
        draining = true;
        health.enterTerminalState();
        server.shutdown(); // no new calls; sessions and streams in flight continue
        if (http != null) {
            http.stopAccepting();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(graceSeconds);
        while (calls.inFlight() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        sessions.endAll(); // the nodes' sessions would otherwise hold the server open: their agents reconnect
        if (!server.awaitTermination(Math.max(1, TimeUnit.NANOSECONDS.toSeconds(deadline - System.nanoTime())), TimeUnit.SECONDS)) {
            server.shutdownNow();
            server.awaitTermination(5, TimeUnit.SECONDS);
        }
        background.shutdownNow();
        try {
            leased.returnAll(); // what a crash would leave held until the leases expire
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "could not return the credit leases; they expire by themselves", e);
        }
        bookingThreads.shutdown();
        if (!bookingThreads.awaitTermination(5, TimeUnit.SECONDS)) {
            bookingThreads.shutdownNow(); // unbooked batches stay unacknowledged: their agents resend them
        }
        if (http != null) {
            http.close();
        }
        if (metricsServer != null) {
            metricsServer.close();
        }
    }

    public void blockUntilShutdown() throws InterruptedException {
        server.awaitTermination();
    }
}
