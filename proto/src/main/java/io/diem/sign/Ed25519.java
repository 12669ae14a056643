package io.diem.sign;

import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.EdECPrivateKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;

/** Conversions between the JDK's Ed25519 key objects and the raw 32-byte wire form, and verification. */
public final class Ed25519 {

    public static final int RAW_KEY_BYTES = 32;
    public static final int SIGNATURE_BYTES = 64;

    /** DER prefix of an X.509 SubjectPublicKeyInfo for Ed25519 (OID 1.3.101.112); the raw key follows. */
    private static final byte[] X509_PREFIX = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

    private Ed25519() {}

    public static byte[] rawPublicKey(PublicKey key) {
        byte[] encoded = key.getEncoded();
        if (encoded.length != X509_PREFIX.length + RAW_KEY_BYTES
                || !Arrays.equals(encoded, 0, X509_PREFIX.length, X509_PREFIX, 0, X509_PREFIX.length)) {
            throw new IllegalArgumentException("not an Ed25519 public key: " + key.getAlgorithm());
        }
        return Arrays.copyOfRange(encoded, X509_PREFIX.length, encoded.length);
    }

    /** The public key for 32 raw bytes; {@link VerificationException.Reason#MALFORMED} otherwise. */
    public static PublicKey publicKey(byte[] raw) throws VerificationException {
        if (raw.length != RAW_KEY_BYTES) {
            throw new VerificationException(VerificationException.Reason.MALFORMED,
                    "Ed25519 public key must be 32 bytes, got " + raw.length);
        }
        byte[] encoded = Arrays.copyOf(X509_PREFIX, X509_PREFIX.length + RAW_KEY_BYTES);
        System.arraycopy(raw, 0, encoded, X509_PREFIX.length, RAW_KEY_BYTES);
        try {
            return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(encoded));
        } catch (GeneralSecurityException e) {
            throw new VerificationException(VerificationException.Reason.MALFORMED,
                    "not a valid Ed25519 public key: " + e.getMessage());
        }
    }

    /** True when {@code signature} is a valid Ed25519 signature of {@code payload} under {@code key}. */
    public static boolean verify(PublicKey key, byte[] payload, byte[] signature) {
        if (signature.length != SIGNATURE_BYTES) {
            return false;
        }
        try {
            Signature verifier = Signature.getInstance("Ed25519");
            verifier.initVerify(key);
            verifier.update(payload);
            return verifier.verify(signature);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    /**
     * Recomputes the public key of a private key. The JDK offers no direct derivation, so the key
     * pair generator is fed the private key's 32 seed bytes as its randomness.
     */
    static PublicKey publicFromPrivate(PrivateKey key) throws GeneralSecurityException {
        byte[] seed = ((EdECPrivateKey) key).getBytes()
                .orElseThrow(() -> new GeneralSecurityException("Ed25519 private key has no seed bytes"));
        java.security.KeyPairGenerator gen = java.security.KeyPairGenerator.getInstance("Ed25519");
        gen.initialize(java.security.spec.NamedParameterSpec.ED25519, new FixedBytesRandom(seed));
        return gen.generateKeyPair().getPublic();
    }

    /** A SecureRandom that returns fixed bytes once: lets the JDK generator rebuild a known key pair. */
    private static final class FixedBytesRandom extends java.security.SecureRandom {
        private final byte[] bytes;

        FixedBytesRandom(byte[] bytes) {
            this.bytes = bytes.clone();
        }

        @Override
        public void nextBytes(byte[] out) {
            if (out.length != bytes.length) {
                throw new IllegalStateException("expected a request for " + bytes.length + " bytes, got " + out.length);
            }
            System.arraycopy(bytes, 0, out, 0, out.length);
        }
    }
}
