package io.diem.gateway.error;

import java.util.Map;

/**
 * A request the gateway refuses, or a dependency it cannot reach. Domain code throws only this; the
 * {@link Kind} names the one gRPC status (or HTTP code) that {@code api/} maps it to, and the message
 * is written for the person who sent the request. {@code reason} and {@code details}, when present,
 * travel to the client as machine-readable fields (gRPC {@code ErrorInfo}).
 */
public final class GatewayException extends RuntimeException {

    public enum Kind {
        INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, UNAVAILABLE,
        UNAUTHENTICATED, PERMISSION_DENIED, CANCELLED, DEADLINE_EXCEEDED
    }

    private final Kind kind;
    private final String reason;
    private final Map<String, String> details;

    public GatewayException(Kind kind, String message) {
        this(kind, message, null, Map.of(), null);
    }

    public GatewayException(Kind kind, String message, Throwable cause) {
        this(kind, message, null, Map.of(), cause);
    }

    /** With a machine-readable {@code reason} (e.g. {@code INSUFFICIENT_CREDIT}) and its figures. */
    public GatewayException(Kind kind, String message, String reason, Map<String, String> details) {
        this(kind, message, reason, details, null);
    }

    private GatewayException(Kind kind, String message, String reason, Map<String, String> details, Throwable cause) {
        super(message, cause);
        this.kind = kind;
        this.reason = reason;
        this.details = Map.copyOf(details);
    }

    public Kind kind() {
        return kind;
    }

    /** Empty unless the refusal carries a machine-readable reason. */
    public String reason() {
        return reason == null ? "" : reason;
    }

    public Map<String, String> details() {
        return details;
    }
}
