package io.diem.sign;

/**
 * Something signed or authenticated did not verify. The {@link Reason} says which check failed, so
 * callers can map it to a precise status and count rejections by reason.
 */
public final class VerificationException extends Exception {

    /** Every way a signature, chain or ticket check can fail; each one distinct. */
    public enum Reason {
        /** The bytes do not parse as the expected message, or a field has the wrong size. */
        MALFORMED,
        /** The signature does not match the payload under the claimed key. */
        BAD_SIGNATURE,
        /** Signed by a key other than the one expected for this sender. */
        WRONG_KEY,
        /** A batch arrived out of order: its sequence is ahead of the next expected one (a gap). */
        SEQUENCE_GAP,
        /** A batch's sequence was already accepted (a resend or a reordering). */
        SEQUENCE_REPLAYED,
        /** A batch's previous-hash does not match the hash of the batch before it. */
        CHAIN_BROKEN,
        /** The ticket's authenticator does not match its bytes. */
        BAD_MAC,
        /** The ticket names a key id this verifier does not hold. */
        UNKNOWN_KEY,
        /** The ticket is for another node. */
        WRONG_NODE,
        /** The ticket's expiry has passed. */
        EXPIRED,
        /** The ticket claims to be issued in the future (clock skew beyond the tolerance). */
        NOT_YET_VALID,
        /** The ticket's job id was already used on this node. */
        REPLAYED
    }

    private final Reason reason;

    public VerificationException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
