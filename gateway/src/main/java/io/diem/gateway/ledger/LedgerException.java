package io.diem.gateway.ledger;

/** A ledger operation refused; {@link Kind} maps one-to-one onto a gRPC status code. */
public final class LedgerException extends RuntimeException {

    public enum Kind {
        INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, UNAVAILABLE
    }

    private final Kind kind;

    public LedgerException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public LedgerException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
