package io.diem.agent.serve;

import com.google.protobuf.ByteString;
import io.diem.agent.journal.UsageJournal;
import io.diem.agent.metrics.AgentMetrics;
import io.diem.common.ThreadFactories;
import io.diem.common.UnixMicros;
import io.diem.sign.NodeKey;
import io.diem.sign.SignedEnvelopes;
import io.diem.sign.TicketKey;
import io.diem.sign.TicketVerifier;
import io.diem.v1.ExecuteRequest;
import io.diem.v1.ExecuteResponse;
import io.diem.v1.GatewayMessage;
import io.diem.v1.HeartbeatPayload;
import io.diem.v1.JobError;
import io.diem.v1.JobEvent;
import io.diem.v1.NodeMessage;
import io.diem.v1.NodeRegistryGrpc;
import io.diem.v1.NodeState;
import io.diem.v1.RegisterPayload;
import io.diem.v1.RegisterResponse;
import io.diem.v1.ReportUsageRequest;
import io.diem.v1.ReportUsageResponse;
import io.diem.v1.SignedEnvelope;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The node's session with one gateway, opened by the node (TLS, verifying the gateway): it answers
 * the gateway's challenge with a registration signed by the node key, then heartbeats, ships the
 * journal's receipt batches (when it is the shipping session) and runs the jobs the gateway sends,
 * streaming their events back. A lost session cancels its jobs (they still leave receipts) and is
 * reopened with exponential backoff (1 s doubling to 30 s). The gateway's ticket key is kept in
 * memory only; nothing listens on the node for the gateway.
 */
public final class GatewaySession implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(GatewaySession.class.getName());
    private static final long MAX_BACKOFF_MS = 30_000;
    private static final int BATCH_RECEIPTS = 500;
    private static final int BATCHES_PER_MESSAGE = 20;

    private final String gateway;
    private final ManagedChannel channel;
    private final NodeKey key;
    private final UsageJournal journal;
    private final TicketVerifier tickets;
    private final JobRunner runner;
    private final Supplier<RegisterPayload.Builder> registration;
    private final Supplier<HeartbeatPayload.Builder> heartbeat;
    private final AgentMetrics metrics;
    private final Clock clock;
    private final java.util.function.Predicate<GatewaySession> ships;
    /** Journal work, heartbeats and reconnects run here, one at a time. */
    private final ScheduledExecutorService timer;
    private final Map<String, SessionJob> jobs = new ConcurrentHashMap<>();
    private final Object sendLock = new Object();
    private volatile StreamObserver<NodeMessage> out;
    private volatile boolean registered;
    private volatile NodeState state = NodeState.NODE_STATE_UNSPECIFIED;
    private volatile boolean closing;
    private boolean usageInFlight;
    /** The last batch sequence of the usage message in flight. */
    private long sentUpTo;
    /** When the gateway acknowledged nothing new, shipping waits (1 s doubling to 30 s) instead of resending at once. */
    private long shipBackoffMs;
    private long shipNotBefore;
    private long backoffMs = 1000;
    private long heartbeatMs = 5000;
    private long lastHeartbeat;
    private long lastError;

    /** @param ships whether this session ships receipt batches now (one registered session of a node does) */
    public GatewaySession(String gateway, ChannelCredentials credentials, NodeKey key, UsageJournal journal, TicketVerifier tickets,
            JobRunner runner, Supplier<RegisterPayload.Builder> registration, Supplier<HeartbeatPayload.Builder> heartbeat,
            AgentMetrics metrics, Clock clock, java.util.function.Predicate<GatewaySession> ships) {
        this.gateway = gateway;
        this.channel = Grpc.newChannelBuilder(gateway, credentials).maxInboundMessageSize(16 << 20).build();
        this.key = key;
        this.journal = journal;
        this.tickets = tickets;
        this.runner = runner;
        this.registration = registration;
        this.heartbeat = heartbeat;
        this.metrics = metrics;
        this.clock = clock;
        this.ships = ships;
        this.timer = Executors.newSingleThreadScheduledExecutor(ThreadFactories.daemon("gateway-session"));
    }

    public void start() {
        timer.execute(this::tick);
    }

    public String gateway() {
        return gateway;
    }

    public boolean registered() {
        return registered;
    }

    public NodeState state() {
        return state;
    }

    // ------------------------------------------------------------------ the timer thread

    private void tick() {
        if (closing) {
            return;
        }
        long delay = 250;
        try {
            if (out == null) {
                open();
                delay = backoffMs; // the handshake's time; a refused attempt doubles the backoff (lost)
            } else if (registered) {
                long now = System.currentTimeMillis();
                if (now - lastHeartbeat >= heartbeatMs) {
                    send(NodeMessage.newBuilder().setHeartbeat(SignedEnvelopes.seal(key, heartbeat.get().setNodeId(key.nodeId())
                            .setSignedAtUnixMicros(UnixMicros.now(clock)).build())).build());
                    lastHeartbeat = now;
                }
                if (ships.test(this) && !usageInFlight && now >= shipNotBefore) {
                    ship();
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "gateway " + gateway + ": " + e.getMessage(), e);
            delay = backoffMs;
        }
        if (!timer.isShutdown()) {
            timer.schedule(this::tick, delay, TimeUnit.MILLISECONDS);
        }
    }

    private void open() {
        out = NodeRegistryGrpc.newStub(channel).connect(new Inbound());
    }

    /** Seals pending receipts and sends the oldest unacknowledged batches (one message in flight at a time). */
    private void ship() throws IOException {
        while (journal.seal(BATCH_RECEIPTS, UnixMicros.now(clock)) != null) {
            // keep sealing until nothing is pending
        }
        List<SignedEnvelope> unacked = journal.unacknowledged();
        if (unacked.isEmpty()) {
            return;
        }
        List<SignedEnvelope> chunk = unacked.subList(0, Math.min(unacked.size(), BATCHES_PER_MESSAGE));
        sentUpTo = io.diem.v1.ReceiptBatch.parseFrom(chunk.get(chunk.size() - 1).getPayload()).getSequence();
        usageInFlight = true;
        send(NodeMessage.newBuilder().setUsage(ReportUsageRequest.newBuilder().addAllBatches(chunk)).build());
    }

    private void booked(ReportUsageResponse r) {
        long before = journal.acknowledgedSequence();
        try {
            int receipts = 0;
            for (SignedEnvelope e : journal.unacknowledged()) {
                io.diem.v1.ReceiptBatch b = io.diem.v1.ReceiptBatch.parseFrom(e.getPayload());
                if (b.getSequence() <= r.getAcknowledgedSequence()) {
                    receipts += b.getReceiptsCount();
                }
            }
            metrics.receiptsShipped(receipts);
            r.getRejectionsList().forEach(rej -> LOG.warning("gateway did not pay receipt of job " + rej.getJobId() + ": "
                    + rej.getReason()));
            acknowledge(r.getAcknowledgedSequence());
            // Progress is the gateway taking everything this message carried, or the journal moving on; only a gateway
            // that refused part of it is waited for.
            if (r.getAcknowledgedSequence() >= sentUpTo || journal.acknowledgedSequence() > before
                    || journal.unacknowledgedBatches() == 0) {
                shipBackoffMs = 0;
            } else {
                shipBackoffMs = shipBackoffMs == 0 ? 1000 : Math.min(MAX_BACKOFF_MS, shipBackoffMs * 2);
                shipNotBefore = System.currentTimeMillis() + shipBackoffMs;
                LOG.warning("gateway " + gateway + " acknowledged no new receipt batch (it is at batch " + r.getAcknowledgedSequence()
                        + ", this node at " + before + "); resending in " + shipBackoffMs + " ms");
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, "could not record the gateway's acknowledgement: " + e.getMessage(), e);
        } finally {
            usageInFlight = false;
        }
    }

    private void acknowledge(long sequence) throws IOException {
        if (sequence > journal.acknowledgedSequence()) {
            journal.acknowledge(Math.min(sequence, journal.lastSealedSequence()));
        }
    }

    private void acknowledgeQuietly(long sequence) {
        try {
            acknowledge(sequence);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "could not record the gateway's acknowledgement: " + e.getMessage(), e);
        }
    }

    // ------------------------------------------------------------------ the stream

    private void send(NodeMessage message) {
        synchronized (sendLock) {
            StreamObserver<NodeMessage> o = out;
            if (o != null) {
                o.onNext(message);
            }
        }
    }

    /** The gateway's half of the session, on gRPC's threads; journal work is handed to the timer. */
    private final class Inbound implements StreamObserver<GatewayMessage> {
        @Override
        public void onNext(GatewayMessage m) {
            switch (m.getBodyCase()) {
                case CHALLENGE -> send(NodeMessage.newBuilder().setRegister(SignedEnvelopes.seal(key, registration.get()
                        .setNodeId(key.nodeId())
                        .setPublicKey(ByteString.copyFrom(key.rawPublicKey()))
                        .setChallenge(m.getChallenge().getNonce())
                        .setSignedAtUnixMicros(UnixMicros.now(clock))
                        .build())).build());
                case REGISTERED -> registeredWith(m.getRegistered());
                case HEARTBEAT -> {
                    state = m.getHeartbeat().getState();
                    long acked = m.getHeartbeat().getAcknowledgedSequence();
                    timer.execute(() -> acknowledgeQuietly(acked));
                }
                case USAGE -> timer.execute(() -> booked(m.getUsage()));
                case JOB -> runJob(m.getJob());
                case CANCEL -> {
                    SessionJob job = jobs.get(m.getCancel().getJobId());
                    if (job != null) {
                        job.cancel();
                    }
                }
                default -> { }
            }
        }

        @Override
        public void onError(Throwable t) {
            lost(Status.fromThrowable(t));
        }

        @Override
        public void onCompleted() {
            lost(Status.UNAVAILABLE.withDescription("the gateway ended the session"));
        }
    }

    private void registeredWith(RegisterResponse r) {
        if (r.getTicketKey().size() == TicketKey.KEY_BYTES) {
            tickets.addKey(new TicketKey(r.getTicketKeyId(), r.getTicketKey().toByteArray()));
        }
        heartbeatMs = Math.max(1, r.getHeartbeatIntervalSeconds()) * 1000L;
        state = r.getState();
        long acked = r.getAcknowledgedSequence();
        timer.execute(() -> {
            acknowledgeQuietly(acked);
            backoffMs = 1000;
            usageInFlight = false;
            lastHeartbeat = System.currentTimeMillis();
        });
        registered = true;
        LOG.info("session with gateway " + gateway + " open as " + key.nodeId() + " (" + state + ")");
    }

    private void lost(Status status) {
        synchronized (sendLock) {
            out = null;
        }
        registered = false;
        for (SessionJob job : jobs.values()) {
            job.cancel(); // its caller is gone with the session; the job still leaves a receipt
        }
        if (!closing) {
            long now = System.currentTimeMillis();
            if (now - lastError > 30_000) {
                LOG.warning("session with gateway " + gateway + " lost: " + status.getCode() + " " + status.getDescription()
                        + "; reconnecting with backoff");
                lastError = now;
            }
            timer.execute(() -> {
                usageInFlight = false;
                backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs * 2);
            });
        }
    }

    private void runJob(ExecuteRequest request) {
        String jobId;
        try {
            jobId = io.diem.v1.JobTicket.parseFrom(request.getTicket().getTicket()).getJobId();
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            return; // not a ticket this node could run; the gateway minted it, so there is nobody to tell
        }
        SessionJob job = new SessionJob(jobId);
        jobs.put(jobId, job);
        runner.run(request, job);
    }

    /** One job sent on this session: its events go back on it. */
    private final class SessionJob implements JobStream {
        private final String jobId;
        private volatile boolean cancelled;
        private volatile Runnable onCancel;

        SessionJob(String jobId) {
            this.jobId = jobId;
        }

        void cancel() {
            cancelled = true;
            Runnable r = onCancel;
            if (r != null) {
                r.run();
            }
        }

        @Override
        public void send(ExecuteResponse event) {
            JobEvent.Builder e = JobEvent.newBuilder().setJobId(jobId);
            if (event.hasSummary()) {
                e.setSummary(event.getSummary());
            } else {
                e.setDelta(event.getDelta());
            }
            GatewaySession.this.send(NodeMessage.newBuilder().setJobEvent(e).build());
        }

        @Override
        public void complete() {
            jobs.remove(jobId);
        }

        @Override
        public void fail(StatusRuntimeException status) {
            jobs.remove(jobId);
            GatewaySession.this.send(NodeMessage.newBuilder().setJobEvent(JobEvent.newBuilder().setJobId(jobId)
                    .setError(JobError.newBuilder().setCode(status.getStatus().getCode().name())
                            .setDescription(status.getStatus().getDescription() == null ? "" : status.getStatus().getDescription())))
                    .build());
        }

        @Override
        public boolean isCancelled() {
            return cancelled;
        }

        @Override
        public void onCancel(Runnable onCancel) {
            this.onCancel = onCancel;
            if (cancelled) {
                onCancel.run();
            }
        }
    }

    // ------------------------------------------------------------------ shutdown

    /** One last bounded attempt to ship everything, then ends the session. */
    public void flushAndClose(long boundMillis) {
        try {
            if (registered && ships.test(this)) {
                java.util.concurrent.CountDownLatch shipped = new java.util.concurrent.CountDownLatch(1);
                timer.execute(() -> {
                    try {
                        if (!usageInFlight) {
                            ship();
                        }
                    } catch (IOException | RuntimeException e) {
                        LOG.warning("final receipt shipment failed (" + e.getMessage() + ")");
                    }
                    shipped.countDown();
                });
                shipped.await(boundMillis, TimeUnit.MILLISECONDS);
                long deadline = System.currentTimeMillis() + boundMillis;
                while (System.currentTimeMillis() < deadline && registered && journal.unacknowledgedBatches() > 0) {
                    Thread.sleep(20);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            closing = true;
            timer.shutdown();
            synchronized (sendLock) {
                if (out != null) {
                    out.onCompleted();
                    out = null;
                }
            }
            channel.shutdownNow();
        }
        if (journal.unacknowledgedBatches() > 0) {
            LOG.warning(journal.unacknowledgedBatches() + " receipt batches stay in the journal and ship on the next start");
        }
    }

    @Override
    public void close() {
        flushAndClose(2000);
    }
}
