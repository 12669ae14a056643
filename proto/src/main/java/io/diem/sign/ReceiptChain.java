package io.diem.sign;

import com.google.protobuf.ByteString;
import io.diem.sign.VerificationException.Reason;
import io.diem.v1.ReceiptBatch;
import io.diem.v1.SignedEnvelope;
import io.diem.v1.UsageReceipt;
import java.security.PublicKey;
import java.util.Arrays;
import java.util.List;

/**
 * The hash chain over a node's receipt batches. Batch {@code n} carries the SHA-256 of the payload
 * bytes of batch {@code n-1} (32 zero bytes for batch 1), so a missing, reordered or rewritten batch
 * breaks the chain. One instance tracks one end of one chain: the node's {@link #seal} side or the
 * gateway's {@link #accept} side. Not thread-safe; callers serialize per node.
 */
public final class ReceiptChain {

    /** The previous-hash of batch 1. */
    public static final byte[] GENESIS_HASH = new byte[Hashes.SHA256_BYTES];

    private long lastSequence;
    private byte[] lastHash;

    /** A chain whose last sealed or accepted batch is {@code lastSequence} with payload hash {@code lastHash}. */
    public ReceiptChain(long lastSequence, byte[] lastHash) {
        if (lastSequence < 0) {
            throw new IllegalArgumentException("sequence must be >= 0, got " + lastSequence);
        }
        if (lastHash.length != Hashes.SHA256_BYTES) {
            throw new IllegalArgumentException("chain hash must be 32 bytes, got " + lastHash.length);
        }
        this.lastSequence = lastSequence;
        this.lastHash = lastHash.clone();
    }

    /** An empty chain: the next batch is 1. */
    public static ReceiptChain empty() {
        return new ReceiptChain(0, GENESIS_HASH);
    }

    /** Seals the next batch: assigns its sequence and previous-hash and signs it. */
    public SignedEnvelope seal(NodeKey key, List<UsageReceipt> receipts, long sealedAtUnixMicros) {
        ReceiptBatch batch = ReceiptBatch.newBuilder()
                .setNodeId(key.nodeId())
                .setSequence(lastSequence + 1)
                .setPreviousHash(ByteString.copyFrom(lastHash))
                .addAllReceipts(receipts)
                .setSealedAtUnixMicros(sealedAtUnixMicros)
                .build();
        SignedEnvelope envelope = SignedEnvelopes.seal(key, batch);
        advance(batch.getSequence(), envelope.getPayload().toByteArray());
        return envelope;
    }

    /**
     * Verifies the next batch of node {@code nodeId}: signature first, then that it is the very next
     * sequence and links to the last accepted batch. Advances the chain only when all checks pass.
     */
    public ReceiptBatch accept(SignedEnvelope envelope, String nodeId, PublicKey nodeKey) throws VerificationException {
        ReceiptBatch batch = SignedEnvelopes.open(envelope, nodeId, nodeKey, ReceiptBatch.parser());
        if (!batch.getNodeId().equals(nodeId)) {
            throw new VerificationException(Reason.WRONG_KEY,
                    "batch names node '" + batch.getNodeId() + "' but is signed by '" + nodeId + "'");
        }
        long expected = lastSequence + 1;
        if (batch.getSequence() < expected) {
            throw new VerificationException(Reason.SEQUENCE_REPLAYED,
                    "batch " + batch.getSequence() + " was already accepted (next expected is " + expected + ")");
        }
        if (batch.getSequence() > expected) {
            throw new VerificationException(Reason.SEQUENCE_GAP,
                    "batch " + batch.getSequence() + " arrived but batch " + expected + " is missing");
        }
        if (!Arrays.equals(batch.getPreviousHash().toByteArray(), lastHash)) {
            throw new VerificationException(Reason.CHAIN_BROKEN,
                    "batch " + batch.getSequence() + " does not link to batch " + lastSequence
                            + ": previous-hash " + Hashes.hex(batch.getPreviousHash().toByteArray())
                            + ", expected " + Hashes.hex(lastHash));
        }
        advance(batch.getSequence(), envelope.getPayload().toByteArray());
        return batch;
    }

    private void advance(long sequence, byte[] payload) {
        lastSequence = sequence;
        lastHash = Hashes.sha256(payload);
    }

    public long lastSequence() {
        return lastSequence;
    }

    public byte[] lastHash() {
        return lastHash.clone();
    }
}
