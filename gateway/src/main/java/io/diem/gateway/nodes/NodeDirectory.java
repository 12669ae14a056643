package io.diem.gateway.nodes;

import com.google.gson.Gson;
import com.google.gson.reflect.TypeToken;
import io.diem.common.UnixMicros;
import io.diem.gateway.error.GatewayException.Kind;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.nodes.Node.Approval;
import io.diem.gateway.nodes.Node.ServedModel;
import io.diem.gateway.store.Sql;
import io.diem.gateway.store.Tx;
import io.diem.sign.Ed25519;
import io.diem.sign.Hashes;
import io.diem.sign.NodeKey;
import io.diem.sign.SignedEnvelopes;
import io.diem.sign.VerificationException;
import io.diem.v1.HeartbeatPayload;
import io.diem.v1.NodeState;
import io.diem.v1.RegisterPayload;
import io.diem.v1.SignedEnvelope;
import java.security.PublicKey;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The nodes every gateway on the ledger knows ({@code nodes}): registration and heartbeats (both
 * signed by the node key and checked for freshness), operator approval, flags, the last receipt
 * batch acknowledged, and each node's state. Reads for dispatch come from a snapshot refreshed at
 * most every {@link #SNAPSHOT_TTL_NANOS} and at once after any change made here.
 */
public final class NodeDirectory {

    private static final long SNAPSHOT_TTL_NANOS = 500_000_000L;
    private static final Gson GSON = new Gson();
    private static final Duration MAX_CLOCK_SKEW = Duration.ofMinutes(5);
    private static final String SELECT = "SELECT node_id, public_key_hex, endpoint, state, flag_reason, models_json, engine, "
            + "agent_version, registered_at, last_heartbeat_at, running, queued, gpus_online, acked_sequence, acked_hash_hex, suspended_until "
            + "FROM nodes";

    private final Tx tx;
    private final Clock clock;
    /** Each node's receipts not yet acknowledged by any gateway, as its last heartbeat here said. */
    private final java.util.Map<String, Integer> unbooked = new java.util.concurrent.ConcurrentHashMap<>();
    private final Duration heartbeatInterval;
    private final Duration healthTimeout;
    private volatile List<Node> snapshot = List.of();
    private volatile long snapshotAt;

    public NodeDirectory(Tx tx, Clock clock, Duration heartbeatInterval, Duration healthTimeout) {
        this.tx = tx;
        this.clock = clock;
        this.heartbeatInterval = heartbeatInterval;
        this.healthTimeout = healthTimeout;
    }

    public Duration heartbeatInterval() {
        return heartbeatInterval;
    }

    private long now() {
        return UnixMicros.now(clock);
    }

    // ------------------------------------------------------------------ registration and heartbeats

    /**
     * Verifies a registration that answers {@code session}'s challenge — signed by the key its node id
     * derives from, fresh, carrying this session's nonce — and records the node (new nodes wait for
     * approval). Nothing is written unless all of that holds.
     */
    Node register(SignedEnvelope envelope, NodeSession session, long nowMicros) {
        RegisterPayload p;
        try {
            p = RegisterPayload.parseFrom(envelope.getPayload());
            PublicKey key = Ed25519.publicKey(p.getPublicKey().toByteArray());
            if (!NodeKey.nodeIdOf(p.getPublicKey().toByteArray()).equals(p.getNodeId())) {
                throw new GatewayException(Kind.UNAUTHENTICATED, "node id " + p.getNodeId() + " does not derive from its public key");
            }
            SignedEnvelopes.open(envelope, p.getNodeId(), key, RegisterPayload.parser());
        } catch (com.google.protobuf.InvalidProtocolBufferException | VerificationException e) {
            throw new GatewayException(Kind.UNAUTHENTICATED, "registration refused: " + e.getMessage());
        }
        if (!session.challengeMatches(p.getChallenge().toByteArray(), nowMicros)) {
            throw new GatewayException(Kind.UNAUTHENTICATED, "registration refused: it does not answer this session's challenge "
                    + "(a recorded registration cannot open a new session; challenges expire after "
                    + NodeSession.CHALLENGE_TTL_MICROS / 1_000_000 + " s)");
        }
        checkFresh(p.getSignedAtUnixMicros());
        List<ServedModel> models = p.getModelsList().stream().map(m -> new ServedModel(m.getName(), (int) m.getContextLength(),
                (int) Math.min(m.getChatFixedTokens() & 0xFFFFFFFFL, 1 << 20), (int) Math.min(m.getChatTokensPerMessage() & 0xFFFFFFFFL, 1 << 20)))
                .toList();
        String modelsJson = GSON.toJson(models);
        if (modelsJson.length() > 8000) {
            throw new GatewayException(Kind.INVALID_ARGUMENT, "too many models in one registration");
        }
        String endpoint = session.peer().length() > 256 ? session.peer().substring(0, 256) : session.peer();
        String publicKeyHex = Hashes.hex(p.getPublicKey().toByteArray());
        tx.runRetryingDuplicateKey(sql -> {
            long now = now();
            int updated = sql.update("UPDATE nodes SET endpoint = ?, models_json = ?, engine = ?, agent_version = ?, last_heartbeat_at = ? "
                    + "WHERE node_id = ? AND public_key_hex = ?", endpoint, modelsJson, p.getEngine(), p.getAgentVersion(), now,
                    p.getNodeId(), publicKeyHex);
            if (updated == 0) {
                sql.update("INSERT INTO nodes (node_id, public_key_hex, endpoint, state, models_json, engine, agent_version, "
                        + "registered_at, last_heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", p.getNodeId(), publicKeyHex,
                        endpoint, Approval.PENDING.column(), modelsJson, p.getEngine(), p.getAgentVersion(), now, now);
            }
            return null;
        });
        return changed(p.getNodeId());
    }

    /** Verifies a signed heartbeat, records load and the compute the node offered since its last one. */
    public Node heartbeat(SignedEnvelope envelope) {
        Node node = node(envelope.getKeyId()).orElseThrow(() -> new GatewayException(Kind.NOT_FOUND,
                "node " + envelope.getKeyId() + " is not registered; register first"));
        HeartbeatPayload p;
        try {
            p = SignedEnvelopes.open(envelope, node.nodeId(), node.publicKey(), HeartbeatPayload.parser());
        } catch (VerificationException e) {
            throw new GatewayException(Kind.UNAUTHENTICATED, "heartbeat refused: " + e.getMessage());
        }
        checkFresh(p.getSignedAtUnixMicros());
        unbooked.put(node.nodeId(), p.getReceiptsUnbooked());
        tx.runRetryingDuplicateKey(sql -> {
            long now = now();
            long last = sql.one("SELECT last_heartbeat_at FROM nodes WHERE node_id = ? FOR UPDATE", rs -> rs.getLong(1), node.nodeId())
                    .orElseThrow();
            // Offered compute: devices online × time since the last heartbeat, counting at most one health timeout.
            long span = Math.max(0, Math.min(now - last, healthTimeout.toNanos() / 1000));
            long offered = span * p.getGpusOnline();
            sql.update("UPDATE nodes SET last_heartbeat_at = ?, running = ?, queued = ?, gpus_online = ? WHERE node_id = ?", now,
                    p.getRunning(), p.getQueued(), p.getGpusOnline(), node.nodeId());
            if (offered > 0) {
                NodeDays.addOffered(sql, node.nodeId(), UnixMicros.day(now), offered);
            }
            return null;
        });
        return changed(node.nodeId());
    }

    /** Receipts the node holds that no gateway has acknowledged, as its last heartbeat to this gateway reported. */
    public int unbookedReceipts(String nodeId) {
        return unbooked.getOrDefault(nodeId, 0);
    }

    private void checkFresh(long signedAtMicros) {
        long skew = Math.abs(now() - signedAtMicros);
        if (skew > MAX_CLOCK_SKEW.toNanos() / 1000) {
            throw new GatewayException(Kind.FAILED_PRECONDITION, "message signed " + skew / 1_000_000
                    + " s away from the gateway's clock (limit " + MAX_CLOCK_SKEW.toSeconds() + " s); check the node's clock");
        }
    }

    // ------------------------------------------------------------------ operator actions and evidence

    public Node approve(String nodeId) {
        return setApproval(nodeId, Approval.APPROVED, true);
    }

    public Node revoke(String nodeId) {
        return setApproval(nodeId, Approval.REVOKED, false);
    }

    private Node setApproval(String nodeId, Approval approval, boolean clearFlag) {
        int n = tx.run(sql -> sql.update("UPDATE nodes SET state = ?" + (clearFlag ? ", flag_reason = NULL, suspended_until = 0" : "")
                + " WHERE node_id = ?",
                approval.column(), nodeId));
        if (n == 0) {
            throw new GatewayException(Kind.NOT_FOUND, "no node '" + nodeId + "'");
        }
        return changed(nodeId);
    }

    /** Marks a node as untrusted: it gets no jobs until an operator approves it again. */
    public void flag(String nodeId, String reason) {
        tx.run(sql -> flag(sql, nodeId, reason));
        invalidate();
    }

    /** As {@link #flag(String, String)}, inside the caller's transaction (then {@link #invalidate} after it commits). */
    public static int flag(Sql sql, String nodeId, String reason) throws SQLException {
        return sql.update("UPDATE nodes SET flag_reason = ? WHERE node_id = ?", reason.length() > 256 ? reason.substring(0, 256) : reason,
                nodeId);
    }

    /** Records the last receipt batch booked from the node (its chain position), inside the booking's transaction. */
    public static void setAcknowledged(Sql sql, String nodeId, long sequence, byte[] hash) throws SQLException {
        sql.update("UPDATE nodes SET acked_sequence = ?, acked_hash_hex = ? WHERE node_id = ?", sequence, Hashes.hex(hash), nodeId);
    }

    // ------------------------------------------------------------------ reads

    public Optional<Node> node(String nodeId) {
        return tx.run(sql -> sql.one(SELECT + " WHERE node_id = ?", NodeDirectory::read, nodeId));
    }

    /** Every node, from a snapshot at most {@link #SNAPSHOT_TTL_NANOS} old. */
    public List<Node> nodes() {
        long now = System.nanoTime();
        if (now - snapshotAt > SNAPSHOT_TTL_NANOS) {
            snapshot = tx.run(sql -> sql.list(SELECT + " ORDER BY node_id", NodeDirectory::read));
            snapshotAt = now;
        }
        return snapshot;
    }

    /** The node's state as operators see it. */
    public NodeState state(Node n) {
        return switch (n.approval()) {
            case PENDING -> NodeState.NODE_STATE_PENDING;
            case REVOKED -> NodeState.NODE_STATE_REVOKED;
            case APPROVED -> n.flagReason() != null ? NodeState.NODE_STATE_FLAGGED
                    : now() < n.suspendedUntil() ? NodeState.NODE_STATE_SUSPENDED
                    : live(n) ? NodeState.NODE_STATE_HEALTHY
                    : NodeState.NODE_STATE_SILENT;
        };
    }

    /** Heartbeating within the health timeout. */
    public boolean live(Node n) {
        return now() - n.lastHeartbeatAt() <= healthTimeout.toNanos() / 1000;
    }

    /** Receipts a live node may miss within {@link #MISS_WINDOW_MICROS} before it is suspended. */
    public static final int MISSES_BEFORE_SUSPENSION = 5;
    static final long MISS_WINDOW_MICROS = 3_600_000_000L;
    static final long SUSPENSION_MICROS = 900_000_000L;

    /**
     * The node was up but sent no receipt for {@code jobId} in time: one miss on its record. With
     * {@value #MISSES_BEFORE_SUSPENSION} misses within an hour it is suspended for 15 minutes (each
     * further miss restarts that) and then takes jobs again by itself. One crash never suspends a node:
     * a node that is down misses nothing (its receipts come back, marked interrupted, when it restarts).
     * Returns whether the node is now suspended. In the caller's transaction.
     */
    public static boolean missedReceipt(Sql sql, String nodeId, String jobId, long nowMicros) throws SQLException {
        sql.update("INSERT INTO node_misses (job_id, node_id, missed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", jobId, nodeId,
                nowMicros);
        long recent = sql.number("SELECT COUNT(*) FROM node_misses WHERE node_id = ? AND missed_at > ?", nodeId,
                nowMicros - MISS_WINDOW_MICROS);
        if (recent < MISSES_BEFORE_SUSPENSION) {
            return false;
        }
        sql.update("UPDATE nodes SET suspended_until = ? WHERE node_id = ?", nowMicros + SUSPENSION_MICROS, nodeId);
        return true;
    }

    private Node changed(String nodeId) {
        invalidate();
        return node(nodeId).orElseThrow();
    }

    /** The next read of {@link #nodes} goes to the database (after a change committed elsewhere). */
    public void invalidate() {
        snapshotAt = 0;
    }

    private static Node read(ResultSet rs) throws SQLException {
        PublicKey key;
        try {
            key = Ed25519.publicKey(Hashes.unhex(rs.getString(2)));
        } catch (VerificationException e) {
            throw new SQLException("stored public key of node " + rs.getString(1) + " is invalid", e);
        }
        List<ServedModel> models = GSON.fromJson(rs.getString(6), new TypeToken<List<ServedModel>>() {}.getType());
        return new Node(rs.getString(1), key, rs.getString(3), Approval.ofColumn(rs.getString(4)), rs.getString(5), models,
                rs.getString(7), rs.getString(8), rs.getLong(9), rs.getLong(10), rs.getInt(11), rs.getInt(12), rs.getInt(13),
                rs.getLong(14), Hashes.unhex(rs.getString(15)), rs.getLong(16));
    }
}
