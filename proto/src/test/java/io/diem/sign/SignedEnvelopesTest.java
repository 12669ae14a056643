package io.diem.sign;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.diem.sign.VerificationException.Reason;
import io.diem.v1.HeartbeatPayload;
import io.diem.v1.SignedEnvelope;
import org.junit.jupiter.api.Test;

class SignedEnvelopesTest {

    private final NodeKey key = NodeKey.generate();
    private final HeartbeatPayload heartbeat =
            HeartbeatPayload.newBuilder().setNodeId(key.nodeId()).setRunning(3).setGpusOnline(2).build();

    @Test
    void roundTrip() throws Exception {
        SignedEnvelope envelope = SignedEnvelopes.seal(key, heartbeat);
        assertThat(envelope.getKeyId()).isEqualTo(key.nodeId());
        assertThat(envelope.getSignature().size()).isEqualTo(64);
        assertThat(SignedEnvelopes.open(envelope, key.nodeId(), key.publicKey(), HeartbeatPayload.parser()))
                .isEqualTo(heartbeat);
    }

    @Test
    void tamperedPayloadIsRejected() {
        SignedEnvelope envelope = SignedEnvelopes.seal(key, heartbeat);
        byte[] payload = envelope.getPayload().toByteArray();
        payload[payload.length - 1] ^= 1;
        SignedEnvelope tampered = envelope.toBuilder().setPayload(ByteString.copyFrom(payload)).build();

        assertReason(() -> SignedEnvelopes.open(tampered, key.nodeId(), key.publicKey(), HeartbeatPayload.parser()),
                Reason.BAD_SIGNATURE);
    }

    @Test
    void signatureByAnotherKeyIsRejected() {
        NodeKey other = NodeKey.generate();
        SignedEnvelope forged = SignedEnvelopes.seal(other, heartbeat).toBuilder().setKeyId(key.nodeId()).build();
        assertReason(() -> SignedEnvelopes.open(forged, key.nodeId(), key.publicKey(), HeartbeatPayload.parser()),
                Reason.BAD_SIGNATURE);

        SignedEnvelope honest = SignedEnvelopes.seal(other, heartbeat);
        assertReason(() -> SignedEnvelopes.open(honest, key.nodeId(), key.publicKey(), HeartbeatPayload.parser()),
                Reason.WRONG_KEY);
    }

    @Test
    void signedGarbageIsMalformedNotACrash() {
        byte[] garbage = {(byte) 0xff, (byte) 0xff, (byte) 0xff};
        SignedEnvelope envelope = SignedEnvelope.newBuilder()
                .setPayload(ByteString.copyFrom(garbage))
                .setSignature(ByteString.copyFrom(key.sign(garbage)))
                .setKeyId(key.nodeId())
                .build();
        assertReason(() -> SignedEnvelopes.open(envelope, key.nodeId(), key.publicKey(), HeartbeatPayload.parser()),
                Reason.MALFORMED);
    }

    static void assertReason(ThrowingCall call, Reason reason) {
        assertThatThrownBy(call::run)
                .isInstanceOfSatisfying(VerificationException.class, e -> assertThat(e.reason()).isEqualTo(reason));
    }

    interface ThrowingCall {
        void run() throws Exception;
    }
}
