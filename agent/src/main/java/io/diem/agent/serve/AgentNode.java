package io.diem.agent.serve;

import io.diem.agent.engine.InferenceEngine;
import io.diem.agent.journal.JobLog;
import io.diem.agent.journal.UsageJournal;
import io.diem.agent.metering.ReceiptWriter;
import io.diem.agent.metrics.AgentMetrics;
import io.diem.agent.model.Model;
import io.diem.common.MetricsHttpServer;
import io.diem.common.OwnerOnly;
import io.diem.common.ThreadFactories;
import io.diem.sign.NodeKey;
import io.diem.sign.TicketVerifier;
import io.diem.v1.GpuInfo;
import io.diem.v1.HeartbeatPayload;
import io.diem.v1.RegisterPayload;
import io.diem.v1.UsageReceipt;
import io.grpc.ChannelCredentials;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * A running node agent: identity, journal, scheduler, the NodeAgent gRPC server, the metrics
 * endpoint and the sessions with the gateways, started and stopped in order. {@link #drain} is what SIGTERM
 * does: stop taking jobs, finish running ones within a bound, flush the journal, stop.
 */
public final class AgentNode {

    private static final Logger LOG = Logger.getLogger(AgentNode.class.getName());

    /**
     * What a node needs to start.
     *
     * @param gateways the gateways to keep a session with (HOST:PORT each; empty for none)
     * @param gatewayCredentials how every gateway is verified (TLS) when the node dials it
     */
    public record Settings(Path stateDir, List<String> gateways, ChannelCredentials gatewayCredentials,
            Map<String, Model> models, List<InferenceEngine> engines, int queueCapacity, String metricsHost, int metricsPort,
            String version, java.util.function.Function<InferenceEngine, JobScheduler.Limits> limits) {

        /** With each device's default batch and KV limits ({@link JobScheduler.Limits#defaults}). */
        public Settings(Path stateDir, List<String> gateways, ChannelCredentials gatewayCredentials, Map<String, Model> models,
                List<InferenceEngine> engines, int queueCapacity, String metricsHost, int metricsPort, String version) {
            this(stateDir, gateways, gatewayCredentials, models, engines, queueCapacity, metricsHost, metricsPort, version,
                    JobScheduler.Limits::defaults);
        }
    }

    private final Settings settings;
    private final NodeKey key;
    private final UsageJournal journal;
    private final JobLog jobLog;
    private final AgentMetrics metrics = new AgentMetrics();
    private final Devices devices;
    private final ExecutorService finisher = Executors.newFixedThreadPool(4, ThreadFactories.daemon("job-finisher"));
    private final TicketVerifier tickets;
    private final HealthStatusManager health = new HealthStatusManager();
    /** The local API (loopback), or null when the node runs without one. */
    private final Server server;
    private final List<GatewaySession> sessions = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(ThreadFactories.daemon("metrics-sampler"));
    /** Polls nvidia-smi (it may take a second) off the sampler's one-second ticks. */
    private final ScheduledExecutorService gpuPoller = Executors.newSingleThreadScheduledExecutor(ThreadFactories.daemon("gpu-telemetry"));
    private MetricsHttpServer metricsServer;
    private volatile boolean draining;

    /** @param serverBuilder where the local API listens (loopback), or null for none */
    public AgentNode(ServerBuilder<?> serverBuilder, Settings settings, Clock clock) throws IOException {
        this.settings = settings;
        OwnerOnly.directory(settings.stateDir());
        this.key = NodeKey.loadOrCreate(settings.stateDir().resolve("node.key"));
        this.journal = UsageJournal.open(settings.stateDir().resolve("journal"), key);
        this.tickets = new TicketVerifier(key.nodeId(), clock, Duration.ofSeconds(30));
        ReceiptWriter receipts = new ReceiptWriter(key.nodeId(), journal, clock);
        this.jobLog = JobLog.open(settings.stateDir().resolve("journal"));
        io.micrometer.core.instrument.Timer usageFsync = metrics.journalFsync("usage");
        io.micrometer.core.instrument.Timer jobsFsync = metrics.journalFsync("jobs");
        journal.onFsync(nanos -> usageFsync.record(nanos, TimeUnit.NANOSECONDS));
        jobLog.onFsync(nanos -> jobsFsync.record(nanos, TimeUnit.NANOSECONDS));
        for (UsageReceipt receipt : jobLog.interrupted()) {
            if (!journal.holds(receipt.getJobId())) { // killed between its receipt and its end record: it has its receipt
                journal.append(receipt); // a previous run stopped while this job ran: it is billed as far as it got
            }
        }
        if (!jobLog.interrupted().isEmpty()) {
            LOG.info("journaled " + jobLog.interrupted().size() + " interrupted jobs of the previous run as receipts");
        }
        jobLog.clear();
        JobJournal running = new JobJournal(jobLog, receipts);
        for (InferenceEngine engine : settings.engines()) {
            settings.models().values().forEach(engine::prepare); // weights first: the KV pool is sized from what they leave
        }
        this.devices = new Devices(settings.engines(), settings.queueCapacity(), running, settings.limits(),
                settings.models().values().stream().map(Model::config).toList());
        Files.deleteIfExists(settings.stateDir().resolve("ticket.key")); // older versions kept the ticket key on disk
        JobRunner runner = new JobRunner(new JobAdmission(tickets, settings.models(), clock), devices, receipts, metrics, finisher,
                running);
        sampler.scheduleAtFixedRate(running::tick, 1, 1, TimeUnit.SECONDS);
        this.server = serverBuilder == null ? null : serverBuilder
                .addService(new NodeAgentService(key.nodeId(), runner, settings.models(), devices, settings.version()))
                .addService(health.getHealthService())
                .addService(ProtoReflectionServiceV1.newInstance())
                .maxInboundMessageSize(8 << 20)
                .build();
        for (String gateway : settings.gateways()) {
            // Receipts ship on one session, the first registered one in configured order: booking is shared through
            // the ledger, and one sender keeps the chain in order; when that gateway is away the next one takes over.
            sessions.add(new GatewaySession(gateway, settings.gatewayCredentials(), key, journal, tickets, runner,
                    this::registration, this::heartbeat, metrics, clock, this::shipsReceipts));
        }
        devices.schedulers().forEach(this::registerDeviceGauges);
        settings.models().keySet().forEach(metrics::modelServed);
        registerGauges();
        gpuPoller.execute(() -> io.diem.agent.metrics.GpuTelemetry.start(metrics, gpuPoller, 5));
    }

    private void registerDeviceGauges(JobScheduler scheduler) {
        String device = scheduler.device();
        metrics.gauge("diem.agent.queue.depth", "Jobs waiting in the device's queue", () -> scheduler.queued(), "device", device);
        metrics.gauge("diem.agent.jobs.running", "Jobs running on the device", () -> scheduler.running(), "device", device);
        metrics.gauge("diem.agent.kv.cache.bytes", "Memory held by the KV caches of the device's running jobs",
                scheduler::kvCacheBytes, "device", device);
        metrics.gauge("diem.agent.kv.blocks.used", "KV blocks held by the device's running jobs", scheduler::kvBlocksUsed,
                "device", device);
        metrics.gauge("diem.agent.kv.blocks.capacity", "KV blocks in the device's pool (" + scheduler.engine().kvBlockTokens()
                + " positions of the largest served model each)", scheduler::kvBlocksTotal, "device", device);
        metrics.counterFunction("diem.agent.device.busy", "Metered compute time of the device (sum over jobs)", "seconds",
                scheduler, s -> s.busyNanos() / 1e9, "device", device); // the scheduler lives as long as the node
        BusyRatio ratio = new BusyRatio(scheduler);
        sampler.scheduleAtFixedRate(ratio::sample, 1, 1, TimeUnit.SECONDS);
        metrics.gauge("diem.agent.device.busy.ratio", "Share of the device's capacity (wall time × parallelism) spent on jobs "
                + "over the last " + BusyRatio.WINDOW_SECONDS + " s (sampled each second, the same for every scraper)",
                ratio::ratio, "device", device);
        InferenceEngine engine = scheduler.engine();
        engine.gpu().ifPresent(info -> {
            String gpu = String.valueOf(info.getIndex());
            metrics.gauge("diem.agent.gpu.memory.used.bytes", "Device memory in use on the GPU",
                    () -> engine.gpu().map(GpuInfo::getMemoryUsedBytes).orElse(0L), "gpu", gpu, "uuid", info.getUuid());
            metrics.gauge("diem.agent.gpu.memory.total.bytes", "Device memory of the GPU", () -> info.getMemoryTotalBytes(),
                    "gpu", gpu, "uuid", info.getUuid());
        });
    }

    /**
     * Busy time over wall time × parallelism in a sliding window, sampled once a second by the agent
     * itself; scrapes only read it, so several Prometheus servers see the same value.
     */
    static final class BusyRatio {
        static final int WINDOW_SECONDS = 10;
        private final JobScheduler scheduler;
        private final long[] at = new long[WINDOW_SECONDS + 1];
        private final long[] busy = new long[WINDOW_SECONDS + 1];
        private int samples;

        BusyRatio(JobScheduler scheduler) {
            this.scheduler = scheduler;
            sample();
        }

        synchronized void sample() {
            int slot = samples % at.length;
            at[slot] = System.nanoTime();
            busy[slot] = scheduler.busyNanos();
            samples++;
        }

        /** Over the oldest sample kept and the newest; 0 until two samples exist. */
        synchronized double ratio() {
            if (samples < 2) {
                return 0;
            }
            int newest = (samples - 1) % at.length;
            int oldest = samples >= at.length ? samples % at.length : 0;
            long wall = at[newest] - at[oldest];
            return wall <= 0 ? 0 : Math.min(1.0, (busy[newest] - busy[oldest]) / (double) wall / scheduler.engine().parallelism());
        }
    }

    private void registerGauges() {
        metrics.gauge("diem.agent.receipts.pending", "Receipts in the journal not yet sealed into a batch",
                journal::pendingReceipts);
        metrics.gauge("diem.agent.receipt.batches.unacknowledged", "Sealed receipt batches the gateway has not acknowledged",
                journal::unacknowledgedBatches);
        metrics.gauge("diem.agent.receipt.batches.acknowledged", "Highest receipt batch sequence the gateway acknowledged",
                journal::acknowledgedSequence);
        metrics.gauge("diem.agent.engine.info", "The engine in use (value 1)", () -> 1, "engine", devices.engineName());
        metrics.gauge("diem.agent.draining", "1 while the agent drains for shutdown", () -> draining ? 1 : 0);
    }

    private RegisterPayload.Builder registration() {
        RegisterPayload.Builder b = RegisterPayload.newBuilder()
                .setEngine(devices.engineName())
                .setAgentVersion(settings.version())
                .addAllGpus(devices.gpus());
        settings.models().forEach((name, m) -> b.addModels(NodeAgentService.served(name, m)));
        return b;
    }

    private HeartbeatPayload.Builder heartbeat() {
        return HeartbeatPayload.newBuilder()
                .setRunning(devices.running())
                .setQueued(devices.queued())
                .setGpusOnline(devices.gpus().size())
                .addAllGpus(devices.gpus())
                .setReceiptsUnbooked(journal.unbookedReceipts());
    }

    public AgentNode start() throws IOException, InterruptedException {
        if (server != null) {
            server.start();
        }
        health.setStatus("", ServingStatus.SERVING);
        metricsServer = new MetricsHttpServer(settings.metricsHost(), settings.metricsPort(), metrics.registry(),
                () -> !draining);
        sessions.forEach(GatewaySession::start);
        LOG.info("node " + key.nodeId() + " serving " + String.join(", ", settings.models().keySet()) + " on "
                + devices.engineName() + " (" + devices.schedulers().size() + " devices); "
                + (server == null ? "no local API" : "local API on port " + server.getPort()) + ", metrics on port "
                + metricsServer.port() + (sessions.isEmpty() ? "; no gateway configured"
                        : "; sessions with " + String.join(", ", settings.gateways())));
        return this;
    }

    public String nodeId() {
        return key.nodeId();
    }

    /** The local API's port; -1 without one. */
    public int port() {
        return server == null ? -1 : server.getPort();
    }

    public int metricsPort() {
        return metricsServer.port();
    }

    public UsageJournal journal() {
        return journal;
    }

    public TicketVerifier tickets() {
        return tickets;
    }

    public AgentMetrics metrics() {
        return metrics;
    }

    /** Whether {@code session} ships receipts now: the first registered session in configured order. */
    private boolean shipsReceipts(GatewaySession session) {
        for (GatewaySession s : sessions) {
            if (s.registered()) {
                return s == session;
            }
        }
        return false;
    }

    /** The sessions with the gateways, in the order configured (the first registered one ships receipts). */
    public List<GatewaySession> sessions() {
        return sessions;
    }

    /**
     * SIGTERM: no new jobs, finish running ones within {@code bound}, flush the journal, stop
     * everything. Returns a one-line summary (callers in shutdown hooks print it themselves: the
     * JDK's logging shuts down in a hook of its own).
     */
    public String drain(Duration bound) throws InterruptedException, IOException {
        try {
            return drainInOrder(bound);
        } finally {
            stopped.countDown();
        }
    }

    private String drainInOrder(Duration bound) throws InterruptedException, IOException {
        draining = true;
        health.setStatus("", ServingStatus.NOT_SERVING);
        if (server != null) {
            server.shutdown(); // refuses new calls; streams in flight continue
        }
        boolean clean = devices.drain(bound); // new jobs from sessions are refused UNAVAILABLE meanwhile
        finisher.shutdown();
        finisher.awaitTermination(30, TimeUnit.SECONDS);
        if (server != null && !server.awaitTermination(5, TimeUnit.SECONDS)) {
            server.shutdownNow();
        }
        for (GatewaySession session : sessions) {
            session.flushAndClose(5000);
        }
        sampler.shutdownNow();
        gpuPoller.shutdownNow();
        if (metricsServer != null) {
            metricsServer.close();
        }
        devices.close();
        jobLog.close();
        journal.close();
        return "drained" + (clean ? "" : " (drain bound of " + bound.toSeconds() + " s reached: cancelled the jobs still running)")
                + ": " + journal.pendingReceipts() + " receipts and " + journal.unacknowledgedBatches()
                + " batches wait in the journal for the next start";
    }

    public void awaitTermination() throws InterruptedException {
        stopped.await();
    }
}
