package io.diem.sign;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import io.diem.sign.VerificationException.Reason;
import io.diem.v1.SignedEnvelope;
import java.security.PublicKey;

/**
 * Signs the exact bytes of a message and, on the other side, verifies those bytes before parsing
 * them: nothing unauthenticated is ever interpreted.
 */
public final class SignedEnvelopes {

    private SignedEnvelopes() {}

    /** Serializes {@code message} once and signs exactly those bytes with the node key. */
    public static SignedEnvelope seal(NodeKey key, Message message) {
        byte[] payload = message.toByteArray();
        return SignedEnvelope.newBuilder()
                .setPayload(ByteString.copyFrom(payload))
                .setSignature(ByteString.copyFrom(key.sign(payload)))
                .setKeyId(key.nodeId())
                .build();
    }

    /**
     * Checks that the envelope was signed by {@code expectedKeyId}'s key {@code publicKey}, then
     * parses the payload.
     */
    public static <T extends Message> T open(SignedEnvelope envelope, String expectedKeyId, PublicKey publicKey,
            Parser<T> parser) throws VerificationException {
        if (!envelope.getKeyId().equals(expectedKeyId)) {
            throw new VerificationException(Reason.WRONG_KEY,
                    "envelope is signed by key '" + envelope.getKeyId() + "', expected '" + expectedKeyId + "'");
        }
        byte[] payload = envelope.getPayload().toByteArray();
        if (!Ed25519.verify(publicKey, payload, envelope.getSignature().toByteArray())) {
            throw new VerificationException(Reason.BAD_SIGNATURE,
                    "signature of key '" + expectedKeyId + "' does not match the payload ("
                            + payload.length + " bytes)");
        }
        return parse(parser, payload);
    }

    static <T extends Message> T parse(Parser<T> parser, byte[] bytes) throws VerificationException {
        try {
            return parser.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new VerificationException(Reason.MALFORMED, "payload does not parse: " + e.getMessage());
        }
    }
}
