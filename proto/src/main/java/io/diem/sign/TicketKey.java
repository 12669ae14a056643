package io.diem.sign;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * An HMAC-SHA256 key that authenticates job tickets for one node. The gateway derives each node's
 * key from its own secret, so it stores nothing per node; the node receives its key at registration.
 * HMAC costs about a microsecond, where an Ed25519 signature per ticket would cost ~600 µs.
 */
public final class TicketKey {

    public static final int KEY_BYTES = 32;
    public static final int MAC_BYTES = 32;
    private static final String ALGORITHM = "HmacSHA256";

    private final String keyId;
    private final SecretKeySpec secret;
    private final ThreadLocal<Mac> macs;

    public TicketKey(String keyId, byte[] secret) {
        if (keyId.isEmpty()) {
            throw new IllegalArgumentException("ticket key id must not be empty");
        }
        if (secret.length != KEY_BYTES) {
            throw new IllegalArgumentException("ticket key must be " + KEY_BYTES + " bytes, got " + secret.length);
        }
        this.keyId = keyId;
        this.secret = new SecretKeySpec(secret.clone(), ALGORITHM);
        this.macs = ThreadLocal.withInitial(this::newMac);
    }

    /**
     * The ticket key of {@code nodeId}: HMAC-SHA256 under {@code gatewaySecret} of
     * {@code "diem-ticket-key/v1\0" + keyId + "\0" + nodeId}.
     */
    public static TicketKey derive(byte[] gatewaySecret, String keyId, String nodeId) {
        TicketKey master = new TicketKey(keyId, gatewaySecret);
        byte[] label = ("diem-ticket-key/v1\0" + keyId + "\0" + nodeId).getBytes(StandardCharsets.UTF_8);
        return new TicketKey(keyId, master.mac(label));
    }

    public String keyId() {
        return keyId;
    }

    /** The raw key bytes, for handing to the node at registration. */
    public byte[] secretBytes() {
        return secret.getEncoded();
    }

    public byte[] mac(byte[] data) {
        return macs.get().doFinal(data);
    }

    /** Constant-time comparison of {@code mac} with the MAC of {@code data}. */
    public boolean matches(byte[] data, byte[] mac) {
        return MessageDigest.isEqual(mac(data), mac);
    }

    private Mac newMac() {
        try {
            Mac mac = Mac.getInstance(ALGORITHM);
            mac.init(secret);
            return mac;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("every JDK has " + ALGORITHM, e);
        }
    }
}
