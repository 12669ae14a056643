package io.diem.gateway.dispatch;

import com.google.gson.Gson;
import com.google.gson.reflect.TypeToken;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerException;
import io.diem.sign.Ed25519;
import io.diem.sign.Hashes;
import io.diem.sign.NodeKey;
import io.diem.sign.SignedEnvelopes;
import io.diem.sign.TicketKey;
import io.diem.sign.VerificationException;
import io.diem.v1.HeartbeatPayload;
import io.diem.v1.NodeState;
import io.diem.v1.RegisterPayload;
import io.diem.v1.SignedEnvelope;
import io.grpc.Status;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The nodes this gateway (and every gateway on the same ledger) knows: registration and heartbeats
 * (both signed by the node key), approval, flags, health and selection. Rows live in the ledger
 * database; selection reads a snapshot refreshed at most every {@link #SNAPSHOT_TTL_NANOS}.
 */
public final class NodeRegistry {

    /** A model a node serves. */
    public record ServedModel(String name, int contextLength) {}

    /** One node as the registry sees it. */
    public record Node(String nodeId, PublicKey publicKey, String endpoint, String state, String flagReason,
            List<ServedModel> models, String engine, String agentVersion, long registeredAt, long lastHeartbeatAt,
            int running, int queued, int gpusOnline, long ackedSequence, byte[] ackedHash) {

        boolean serves(String model) {
            return models.stream().anyMatch(m -> m.name().equals(model));
        }
    }

    private static final long SNAPSHOT_TTL_NANOS = 500_000_000L;
    private static final Gson GSON = new Gson();
    private static final String TICKET_KEY_ID = "k1";

    private final Ledger ledger;
    private final Duration heartbeatInterval;
    private final Duration healthTimeout;
    private final Duration maxClockSkew = Duration.ofMinutes(5);
    private final byte[] secret;
    private final Map<String, AtomicInteger> inflight = new ConcurrentHashMap<>();
    private volatile List<Node> snapshot = List.of();
    private volatile long snapshotAt;

    public NodeRegistry(Ledger ledger, Duration heartbeatInterval, Duration healthTimeout) {
        this.ledger = ledger;
        this.heartbeatInterval = heartbeatInterval;
        this.healthTimeout = healthTimeout;
        this.secret = loadOrCreateSecret(ledger);
    }

    private static byte[] loadOrCreateSecret(Ledger ledger) {
        return ledger.tx(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT secret_hex FROM gateway_secret WHERE id = 1");
                    ResultSet rs = s.executeQuery()) {
                if (rs.next()) {
                    return Hashes.unhex(rs.getString(1));
                }
            }
            byte[] fresh = new byte[32];
            new SecureRandom().nextBytes(fresh);
            try (PreparedStatement s = c.prepareStatement("INSERT INTO gateway_secret (id, secret_hex) VALUES (1, ?)")) {
                s.setString(1, Hashes.hex(fresh));
                s.executeUpdate(); // a racing gateway's insert fails (23505) and tx() retries, reading the winner's
            }
            return fresh;
        });
    }

    /** The key that authenticates this node's tickets (derived; the node receives it at registration). */
    public TicketKey ticketKey(String nodeId) {
        return TicketKey.derive(secret, TICKET_KEY_ID, nodeId);
    }

    public Duration heartbeatInterval() {
        return heartbeatInterval;
    }

    // ------------------------------------------------------------------ registration and heartbeats

    /** Verifies a signed registration and records the node (new nodes wait for approval). */
    public Node register(SignedEnvelope envelope) {
        RegisterPayload p;
        PublicKey key;
        try {
            p = RegisterPayload.parseFrom(envelope.getPayload());
            key = Ed25519.publicKey(p.getPublicKey().toByteArray());
            if (!NodeKey.nodeIdOf(p.getPublicKey().toByteArray()).equals(p.getNodeId())) {
                throw Status.UNAUTHENTICATED.withDescription("node id " + p.getNodeId() + " does not derive from its public key")
                        .asRuntimeException();
            }
            SignedEnvelopes.open(envelope, p.getNodeId(), key, RegisterPayload.parser());
        } catch (com.google.protobuf.InvalidProtocolBufferException | VerificationException e) {
            throw Status.UNAUTHENTICATED.withDescription("registration refused: " + e.getMessage()).asRuntimeException();
        }
        checkFresh(p.getSignedAtUnixMicros());
        if (p.getEndpoint().isBlank() || p.getEndpoint().length() > 256) {
            throw Status.INVALID_ARGUMENT.withDescription("endpoint must be host:port, got '" + p.getEndpoint() + "'").asRuntimeException();
        }
        List<ServedModel> models = p.getModelsList().stream().map(m -> new ServedModel(m.getName(), (int) m.getContextLength())).toList();
        String modelsJson = GSON.toJson(models);
        if (modelsJson.length() > 8000) {
            throw Status.INVALID_ARGUMENT.withDescription("too many models in one registration").asRuntimeException();
        }
        ledger.tx(c -> {
            long now = ledger.now();
            int updated;
            try (PreparedStatement s = c.prepareStatement("UPDATE nodes SET endpoint = ?, models_json = ?, engine = ?, agent_version = ?, "
                    + "last_heartbeat_at = ? WHERE node_id = ? AND public_key_hex = ?")) {
                s.setString(1, p.getEndpoint());
                s.setString(2, modelsJson);
                s.setString(3, p.getEngine());
                s.setString(4, p.getAgentVersion());
                s.setLong(5, now);
                s.setString(6, p.getNodeId());
                s.setString(7, Hashes.hex(p.getPublicKey().toByteArray()));
                updated = s.executeUpdate();
            }
            if (updated == 0) {
                try (PreparedStatement s = c.prepareStatement("INSERT INTO nodes (node_id, public_key_hex, endpoint, state, models_json, "
                        + "engine, agent_version, registered_at, last_heartbeat_at) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?)")) {
                    s.setString(1, p.getNodeId());
                    s.setString(2, Hashes.hex(p.getPublicKey().toByteArray()));
                    s.setString(3, p.getEndpoint());
                    s.setString(4, modelsJson);
                    s.setString(5, p.getEngine());
                    s.setString(6, p.getAgentVersion());
                    s.setLong(7, now);
                    s.setLong(8, now);
                    s.executeUpdate();
                }
            }
            return null;
        });
        invalidate();
        return node(p.getNodeId()).orElseThrow();
    }

    /** Verifies a signed heartbeat, records load and the compute the node offered since its last one. */
    public Node heartbeat(SignedEnvelope envelope) {
        Node node = node(envelope.getKeyId()).orElseThrow(() -> Status.NOT_FOUND
                .withDescription("node " + envelope.getKeyId() + " is not registered; register first").asRuntimeException());
        HeartbeatPayload p;
        try {
            p = SignedEnvelopes.open(envelope, node.nodeId(), node.publicKey(), HeartbeatPayload.parser());
        } catch (VerificationException e) {
            throw Status.UNAUTHENTICATED.withDescription("heartbeat refused: " + e.getMessage()).asRuntimeException();
        }
        checkFresh(p.getSignedAtUnixMicros());
        ledger.tx(c -> {
            long now = ledger.now();
            long last;
            try (PreparedStatement s = c.prepareStatement("SELECT last_heartbeat_at FROM nodes WHERE node_id = ? FOR UPDATE")) {
                s.setString(1, node.nodeId());
                try (ResultSet rs = s.executeQuery()) {
                    rs.next();
                    last = rs.getLong(1);
                }
            }
            // Offered compute: devices online × time since the last heartbeat, counting at most one health timeout.
            long span = Math.max(0, Math.min(now - last, healthTimeout.toNanos() / 1000));
            long offered = span * p.getGpusOnline();
            try (PreparedStatement s = c.prepareStatement("UPDATE nodes SET last_heartbeat_at = ?, running = ?, queued = ?, "
                    + "gpus_online = ? WHERE node_id = ?")) {
                s.setLong(1, now);
                s.setInt(2, p.getRunning());
                s.setInt(3, p.getQueued());
                s.setInt(4, p.getGpusOnline());
                s.setString(5, node.nodeId());
                s.executeUpdate();
            }
            if (offered > 0) {
                String day = Ledger.day(now);
                try (PreparedStatement s = c.prepareStatement("UPDATE node_days SET offered_micros = offered_micros + ? "
                        + "WHERE node_id = ? AND utc_day = ?")) {
                    s.setLong(1, offered);
                    s.setString(2, node.nodeId());
                    s.setString(3, day);
                    if (s.executeUpdate() == 0) {
                        try (PreparedStatement i = c.prepareStatement(
                                "INSERT INTO node_days (node_id, utc_day, offered_micros) VALUES (?, ?, ?)")) {
                            i.setString(1, node.nodeId());
                            i.setString(2, day);
                            i.setLong(3, offered);
                            i.executeUpdate();
                        }
                    }
                }
            }
            return null;
        });
        invalidate();
        return node(node.nodeId()).orElseThrow();
    }

    private void checkFresh(long signedAtMicros) {
        long skew = Math.abs(ledger.now() - signedAtMicros);
        if (skew > maxClockSkew.toNanos() / 1000) {
            throw Status.FAILED_PRECONDITION.withDescription("message signed " + skew / 1_000_000
                    + " s away from the gateway's clock (limit " + maxClockSkew.toSeconds() + " s); check the node's clock")
                    .asRuntimeException();
        }
    }

    // ------------------------------------------------------------------ operator actions

    public Node approve(String nodeId) {
        return setState(nodeId, "approved", true);
    }

    public Node revoke(String nodeId) {
        return setState(nodeId, "revoked", false);
    }

    private Node setState(String nodeId, String state, boolean clearFlag) {
        int n = ledger.tx(c -> {
            try (PreparedStatement s = c.prepareStatement("UPDATE nodes SET state = ?" + (clearFlag ? ", flag_reason = NULL" : "")
                    + " WHERE node_id = ?")) {
                s.setString(1, state);
                s.setString(2, nodeId);
                return s.executeUpdate();
            }
        });
        if (n == 0) {
            throw new LedgerException(LedgerException.Kind.NOT_FOUND, "no node '" + nodeId + "'");
        }
        invalidate();
        return node(nodeId).orElseThrow();
    }

    /** Marks a node as untrusted: it gets no jobs until an operator approves it again. */
    public void flag(Connection c, String nodeId, String reason) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("UPDATE nodes SET flag_reason = ? WHERE node_id = ?")) {
            s.setString(1, reason.length() > 256 ? reason.substring(0, 256) : reason);
            s.setString(2, nodeId);
            s.executeUpdate();
        }
        invalidate();
    }

    public void setAcknowledged(Connection c, String nodeId, long sequence, byte[] hash) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("UPDATE nodes SET acked_sequence = ?, acked_hash_hex = ? WHERE node_id = ?")) {
            s.setLong(1, sequence);
            s.setString(2, Hashes.hex(hash));
            s.setString(3, nodeId);
            s.executeUpdate();
        }
        invalidate();
    }

    // ------------------------------------------------------------------ reads and selection

    public Optional<Node> node(String nodeId) {
        return ledger.tx(c -> {
            try (PreparedStatement s = c.prepareStatement(SELECT + " WHERE node_id = ?")) {
                s.setString(1, nodeId);
                try (ResultSet rs = s.executeQuery()) {
                    return rs.next() ? Optional.of(read(rs)) : Optional.<Node>empty();
                }
            }
        });
    }

    public List<Node> nodes() {
        long now = System.nanoTime();
        if (now - snapshotAt > SNAPSHOT_TTL_NANOS) {
            snapshot = ledger.tx(c -> {
                List<Node> out = new ArrayList<>();
                try (PreparedStatement s = c.prepareStatement(SELECT + " ORDER BY node_id"); ResultSet rs = s.executeQuery()) {
                    while (rs.next()) {
                        out.add(read(rs));
                    }
                }
                return out;
            });
            snapshotAt = now;
        }
        return snapshot;
    }

    private void invalidate() {
        snapshotAt = 0;
    }

    /** The node's state as operators see it. */
    public NodeState state(Node n) {
        return switch (n.state()) {
            case "pending" -> NodeState.NODE_STATE_PENDING;
            case "revoked" -> NodeState.NODE_STATE_REVOKED;
            default -> n.flagReason() != null ? NodeState.NODE_STATE_FLAGGED
                    : healthy(n) ? NodeState.NODE_STATE_HEALTHY : NodeState.NODE_STATE_SILENT;
        };
    }

    private boolean healthy(Node n) {
        return ledger.now() - n.lastHeartbeatAt() <= healthTimeout.toNanos() / 1000;
    }

    /** Healthy, approved, unflagged nodes. */
    public List<Node> eligible() {
        return nodes().stream().filter(n -> state(n) == NodeState.NODE_STATE_HEALTHY).toList();
    }

    /** The least loaded eligible node serving {@code model}, other than those in {@code exclude}. */
    public Optional<Node> pick(String model, Set<String> exclude) {
        return eligible().stream()
                .filter(n -> n.serves(model) && !exclude.contains(n.nodeId()))
                .min(Comparator.comparingInt((Node n) -> n.running() + n.queued() + inflight(n.nodeId()).get())
                        .thenComparing(Node::nodeId));
    }

    public AtomicInteger inflight(String nodeId) {
        return inflight.computeIfAbsent(nodeId, id -> new AtomicInteger());
    }

    /** Models served by eligible nodes: name → (largest context, node count). */
    public Map<String, int[]> availableModels() {
        Map<String, int[]> out = new TreeMap<>();
        for (Node n : eligible()) {
            for (ServedModel m : n.models()) {
                int[] v = out.computeIfAbsent(m.name(), k -> new int[2]);
                v[0] = Math.max(v[0], m.contextLength());
                v[1]++;
            }
        }
        return out;
    }

    private static final String SELECT = "SELECT node_id, public_key_hex, endpoint, state, flag_reason, models_json, engine, "
            + "agent_version, registered_at, last_heartbeat_at, running, queued, gpus_online, acked_sequence, acked_hash_hex FROM nodes";

    private static Node read(ResultSet rs) throws SQLException {
        PublicKey key;
        try {
            key = Ed25519.publicKey(Hashes.unhex(rs.getString(2)));
        } catch (VerificationException e) {
            throw new SQLException("stored public key of node " + rs.getString(1) + " is invalid", e);
        }
        List<ServedModel> models = GSON.fromJson(rs.getString(6), new TypeToken<List<ServedModel>>() {}.getType());
        return new Node(rs.getString(1), key, rs.getString(3), rs.getString(4), rs.getString(5), models, rs.getString(7),
                rs.getString(8), rs.getLong(9), rs.getLong(10), rs.getInt(11), rs.getInt(12), rs.getInt(13), rs.getLong(14),
                Hashes.unhex(rs.getString(15)));
    }
}
