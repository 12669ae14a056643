package io.diem.gateway.nodes;

import java.security.PublicKey;
import java.util.List;
import java.util.Locale;

/**
 * One node as the gateway's directory sees it (a {@code nodes} row). Times in µs since the epoch;
 * {@code ackedSequence}/{@code ackedHash} are the last receipt batch booked from it; until
 * {@code suspendedUntil} it takes no jobs (missed receipts, {@link NodeDirectory#missedReceipt}).
 */
public record Node(String nodeId, PublicKey publicKey, String endpoint, Approval approval, String flagReason,
        List<ServedModel> models, String engine, String agentVersion, long registeredAt, long lastHeartbeatAt,
        int running, int queued, int gpusOnline, long ackedSequence, byte[] ackedHash, long suspendedUntil) {

    /** What an operator decided: new nodes are pending until approved; revoked is final until approved again. */
    public enum Approval {
        PENDING, APPROVED, REVOKED;

        String column() {
            return name().toLowerCase(Locale.ROOT);
        }

        static Approval ofColumn(String value) {
            return valueOf(value.toUpperCase(Locale.ROOT));
        }
    }

    /** A model a node serves. */
    /**
     * A model a node serves. A chat of n messages with B content bytes renders to at most
     * {@code chatFixedTokens + n * chatTokensPerMessage + B} tokens on this node (both 0: not reported).
     */
    public record ServedModel(String name, int contextLength, int chatFixedTokens, int chatTokensPerMessage) {}

    public boolean serves(String model) {
        return models.stream().anyMatch(m -> m.name().equals(model));
    }

    /** Jobs running and queued on the node by its last heartbeat. */
    public int reportedLoad() {
        return running + queued;
    }
}
