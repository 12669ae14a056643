package io.diem.sign;

import static io.diem.sign.SignedEnvelopesTest.assertReason;
import static org.assertj.core.api.Assertions.assertThat;

import io.diem.sign.VerificationException.Reason;
import io.diem.v1.ReceiptBatch;
import io.diem.v1.SignedEnvelope;
import io.diem.v1.UsageReceipt;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReceiptChainTest {

    private final NodeKey key = NodeKey.generate();
    private final ReceiptChain nodeSide = ReceiptChain.empty();
    private final ReceiptChain gatewaySide = ReceiptChain.empty();

    private SignedEnvelope nextBatch(String jobId) {
        UsageReceipt receipt = UsageReceipt.newBuilder()
                .setJobId(jobId).setNodeId(key.nodeId()).setCompletionTokens(7).setGpuMicros(1234).build();
        return nodeSide.seal(key, List.of(receipt), 1_000_000L);
    }

    @Test
    void batchesInOrderAreAcceptedAndChained() throws Exception {
        SignedEnvelope first = nextBatch("a");
        SignedEnvelope second = nextBatch("b");

        ReceiptBatch b1 = gatewaySide.accept(first, key.nodeId(), key.publicKey());
        ReceiptBatch b2 = gatewaySide.accept(second, key.nodeId(), key.publicKey());

        assertThat(b1.getSequence()).isEqualTo(1);
        assertThat(b1.getPreviousHash().toByteArray()).isEqualTo(ReceiptChain.GENESIS_HASH);
        assertThat(b2.getSequence()).isEqualTo(2);
        assertThat(b2.getPreviousHash().toByteArray()).isEqualTo(Hashes.sha256(first.getPayload().toByteArray()));
        assertThat(b2.getReceipts(0).getJobId()).isEqualTo("b");
        assertThat(gatewaySide.lastSequence()).isEqualTo(2);
        assertThat(gatewaySide.lastHash()).isEqualTo(nodeSide.lastHash());
    }

    @Test
    void missingBatchIsAGap() {
        nextBatch("a");
        SignedEnvelope second = nextBatch("b");
        assertReason(() -> gatewaySide.accept(second, key.nodeId(), key.publicKey()), Reason.SEQUENCE_GAP);
        assertThat(gatewaySide.lastSequence()).isZero();
    }

    @Test
    void reorderedOrResentBatchIsReplayed() throws Exception {
        SignedEnvelope first = nextBatch("a");
        SignedEnvelope second = nextBatch("b");
        gatewaySide.accept(first, key.nodeId(), key.publicKey());
        gatewaySide.accept(second, key.nodeId(), key.publicKey());

        assertReason(() -> gatewaySide.accept(first, key.nodeId(), key.publicKey()), Reason.SEQUENCE_REPLAYED);
    }

    @Test
    void rewrittenHistoryBreaksTheChain() throws Exception {
        SignedEnvelope first = nextBatch("a");
        gatewaySide.accept(first, key.nodeId(), key.publicKey());

        // The node signs a batch 2 that links to some other batch 1 (history rewritten).
        ReceiptChain forkedNode = new ReceiptChain(1, Hashes.sha256("another batch 1".getBytes()));
        SignedEnvelope forked = forkedNode.seal(key, List.of(), 2_000_000L);
        assertReason(() -> gatewaySide.accept(forked, key.nodeId(), key.publicKey()), Reason.CHAIN_BROKEN);
    }

    @Test
    void tamperedBatchFailsTheSignatureBeforeAnythingElse() {
        SignedEnvelope first = nextBatch("a");
        ReceiptBatch inflated = parse(first).toBuilder()
                .setReceipts(0, parse(first).getReceipts(0).toBuilder().setGpuMicros(999_999_999L))
                .build();
        SignedEnvelope tampered = first.toBuilder().setPayload(inflated.toByteString()).build();
        assertReason(() -> gatewaySide.accept(tampered, key.nodeId(), key.publicKey()), Reason.BAD_SIGNATURE);
    }

    @Test
    void batchFromAnotherNodeKeyIsWrongKey() {
        NodeKey stranger = NodeKey.generate();
        SignedEnvelope batch = ReceiptChain.empty().seal(stranger, List.of(), 0);
        assertReason(() -> gatewaySide.accept(batch, key.nodeId(), key.publicKey()), Reason.WRONG_KEY);
        SignedEnvelope relabelled = batch.toBuilder().setKeyId(key.nodeId()).build();
        assertReason(() -> gatewaySide.accept(relabelled, key.nodeId(), key.publicKey()), Reason.BAD_SIGNATURE);
    }

    private static ReceiptBatch parse(SignedEnvelope envelope) {
        try {
            return ReceiptBatch.parseFrom(envelope.getPayload());
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new AssertionError(e);
        }
    }
}
