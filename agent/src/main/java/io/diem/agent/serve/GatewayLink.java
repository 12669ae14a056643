package io.diem.agent.serve;

import com.google.protobuf.ByteString;
import io.diem.agent.journal.UsageJournal;
import io.diem.agent.metrics.AgentMetrics;
import io.diem.common.ThreadFactories;
import io.diem.common.UnixMicros;
import io.diem.sign.Hashes;
import io.diem.sign.NodeKey;
import io.diem.sign.SignedEnvelopes;
import io.diem.sign.TicketKey;
import io.diem.sign.TicketVerifier;
import io.diem.v1.HeartbeatPayload;
import io.diem.v1.HeartbeatResponse;
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
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The agent's side of {@code diem.v1.NodeRegistry}: registers (signed), heartbeats, and ships the
 * journal's receipt batches in order until the gateway acknowledges them. While the gateway is away
 * it retries with exponential backoff (1 s doubling to 30 s); jobs keep running meanwhile on the
 * ticket key saved from the last registration ({@code ticket.key}, mode 0600).
 */
public final class GatewayLink implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(GatewayLink.class.getName());
    private static final long MAX_BACKOFF_MS = 30_000;
    private static final int BATCH_RECEIPTS = 500;
    private static final int BATCHES_PER_CALL = 20;

    private final ManagedChannel channel;
    private final NodeRegistryGrpc.NodeRegistryBlockingStub registry;
    private final NodeKey key;
    private final UsageJournal journal;
    private final TicketVerifier tickets;
    private final Path ticketKeyFile;
    private final Supplier<RegisterPayload.Builder> registration;
    private final Supplier<HeartbeatPayload.Builder> heartbeat;
    private final AgentMetrics metrics;
    private final Clock clock;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(ThreadFactories.daemon("gateway-link"));
    private volatile boolean registered;
    private volatile NodeState state = NodeState.NODE_STATE_UNSPECIFIED;
    private long backoffMs = 1000;
    private long heartbeatMs = 5000;
    private long lastHeartbeat;
    private long lastError;

    public GatewayLink(String gateway, ChannelCredentials credentials, NodeKey key, UsageJournal journal, TicketVerifier tickets, Path stateDir,
            Supplier<RegisterPayload.Builder> registration, Supplier<HeartbeatPayload.Builder> heartbeat,
            AgentMetrics metrics, Clock clock) {
        this.channel = Grpc.newChannelBuilder(gateway, credentials).build();
        this.registry = NodeRegistryGrpc.newBlockingStub(channel);
        this.key = key;
        this.journal = journal;
        this.tickets = tickets;
        this.ticketKeyFile = stateDir.resolve("ticket.key");
        this.registration = registration;
        this.heartbeat = heartbeat;
        this.metrics = metrics;
        this.clock = clock;
    }

    /** Loads the saved ticket key (if any) and starts registering, heartbeating and shipping. */
    public void start() throws IOException {
        loadSavedTicketKey();
        timer.schedule(this::tick, 0, TimeUnit.MILLISECONDS);
    }

    public boolean registered() {
        return registered;
    }

    public NodeState state() {
        return state;
    }

    private void tick() {
        long delay = 250;
        try {
            if (!registered) {
                register();
            }
            long now = System.currentTimeMillis();
            if (now - lastHeartbeat >= heartbeatMs) {
                beat();
                lastHeartbeat = now;
            }
            ship();
            backoffMs = 1000;
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() == Status.Code.NOT_FOUND || e.getStatus().getCode() == Status.Code.UNAUTHENTICATED) {
                registered = false; // the gateway does not know us (any more): register again
            }
            logThrottled("gateway " + channel.authority() + ": " + e.getStatus().getCode() + " "
                    + e.getStatus().getDescription() + "; retrying in " + backoffMs + " ms");
            delay = backoffMs;
            backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs * 2);
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "gateway link: " + e.getMessage(), e);
            delay = backoffMs;
            backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs * 2);
        }
        if (!timer.isShutdown()) {
            timer.schedule(this::tick, delay, TimeUnit.MILLISECONDS);
        }
    }

    private void logThrottled(String message) {
        long now = System.currentTimeMillis();
        if (now - lastError > 30_000) {
            LOG.warning(message);
            lastError = now;
        }
    }

    private void register() throws IOException {
        RegisterPayload payload = registration.get()
                .setNodeId(key.nodeId())
                .setPublicKey(ByteString.copyFrom(key.rawPublicKey()))
                .setSignedAtUnixMicros(UnixMicros.now(clock))
                .build();
        RegisterResponse r = registry.withDeadlineAfter(10, TimeUnit.SECONDS).register(SignedEnvelopes.seal(key, payload));
        if (r.getTicketKey().size() == TicketKey.KEY_BYTES) {
            TicketKey ticketKey = new TicketKey(r.getTicketKeyId(), r.getTicketKey().toByteArray());
            tickets.addKey(ticketKey);
            saveTicketKey(ticketKey);
        }
        heartbeatMs = Math.max(1, r.getHeartbeatIntervalSeconds()) * 1000L;
        state = r.getState();
        acknowledge(r.getAcknowledgedSequence());
        registered = true;
        LOG.info("registered with gateway " + channel.authority() + " as " + key.nodeId() + " (" + state + ")");
    }

    private void beat() throws IOException {
        HeartbeatPayload payload = heartbeat.get()
                .setNodeId(key.nodeId())
                .setSignedAtUnixMicros(UnixMicros.now(clock))
                .build();
        HeartbeatResponse r = registry.withDeadlineAfter(10, TimeUnit.SECONDS).heartbeat(SignedEnvelopes.seal(key, payload));
        state = r.getState();
        acknowledge(r.getAcknowledgedSequence());
    }

    /** Seals pending receipts into batches and sends every unacknowledged batch, oldest first. */
    void ship() throws IOException {
        if (!registered) {
            return;
        }
        while (journal.seal(BATCH_RECEIPTS, UnixMicros.now(clock)) != null) {
            // keep sealing until nothing is pending
        }
        List<SignedEnvelope> unacked = journal.unacknowledged();
        for (int from = 0; from < unacked.size(); from += BATCHES_PER_CALL) {
            List<SignedEnvelope> chunk = unacked.subList(from, Math.min(unacked.size(), from + BATCHES_PER_CALL));
            ReportUsageResponse r = registry.withDeadlineAfter(30, TimeUnit.SECONDS)
                    .reportUsage(ReportUsageRequest.newBuilder().addAllBatches(chunk).build());
            int receipts = 0;
            for (SignedEnvelope e : chunk) {
                receipts += io.diem.v1.ReceiptBatch.parseFrom(e.getPayload()).getReceiptsCount();
            }
            metrics.receiptsShipped(receipts);
            r.getRejectionsList().forEach(rej -> LOG.warning("gateway did not pay receipt of job " + rej.getJobId() + ": "
                    + rej.getReason()));
            acknowledge(r.getAcknowledgedSequence());
        }
    }

    private void acknowledge(long sequence) throws IOException {
        if (sequence > journal.acknowledgedSequence()) {
            journal.acknowledge(Math.min(sequence, journal.lastSealedSequence()));
        }
    }

    private void loadSavedTicketKey() throws IOException {
        if (!Files.exists(ticketKeyFile)) {
            return;
        }
        String[] parts = Files.readString(ticketKeyFile, StandardCharsets.US_ASCII).trim().split(" ");
        try {
            tickets.addKey(new TicketKey(parts[0], Hashes.unhex(parts[1])));
        } catch (RuntimeException e) {
            LOG.warning("ignoring unreadable " + ticketKeyFile + " (" + e.getMessage() + "); waiting for the gateway");
        }
    }

    private void saveTicketKey(TicketKey ticketKey) throws IOException {
        Path tmp = ticketKeyFile.resolveSibling("ticket.key.tmp");
        Files.deleteIfExists(tmp);
        if (tmp.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        }
        Files.writeString(tmp, ticketKey.keyId() + " " + Hashes.hex(ticketKey.secretBytes()) + "\n", StandardCharsets.US_ASCII,
                StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE, StandardOpenOption.SYNC);
        Files.move(tmp, ticketKeyFile, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    /** One last attempt to ship everything (bounded), then stops. */
    public void flushAndClose(long boundMillis) {
        timer.shutdown();
        try {
            timer.awaitTermination(boundMillis, TimeUnit.MILLISECONDS);
            if (registered) {
                ship();
            }
        } catch (StatusRuntimeException | IOException e) {
            LOG.warning("final receipt shipment failed (" + e.getMessage() + "); the receipts stay in the journal and ship on next start");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            channel.shutdownNow();
        }
    }

    @Override
    public void close() {
        flushAndClose(2000);
    }
}
