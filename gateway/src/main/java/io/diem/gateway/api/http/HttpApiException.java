package io.diem.gateway.api.http;

import io.diem.gateway.error.GatewayException;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.Map;

/**
 * An HTTP API error as OpenAI clients read it: a status, and {@code {"error": {"message", "type",
 * "param", "code"}}}. Domain refusals ({@link GatewayException}) map here one-to-one by kind, so both
 * APIs refuse the same things for the same reasons.
 */
final class HttpApiException extends RuntimeException {

    final HttpResponseStatus status;
    final String type;
    final String param;
    final String code;
    /** Extra machine-readable figures (e.g. needed and remaining µUSD), added to the error object. */
    final Map<String, String> details;

    HttpApiException(HttpResponseStatus status, String type, String code, String param, String message) {
        this(status, type, code, param, message, Map.of());
    }

    HttpApiException(HttpResponseStatus status, String type, String code, String param, String message, Map<String, String> details) {
        super(message);
        this.status = status;
        this.type = type;
        this.code = code;
        this.param = param;
        this.details = details;
    }

    /** A 400 that names the offending request field. */
    static HttpApiException invalid(String param, String message) {
        return new HttpApiException(HttpResponseStatus.BAD_REQUEST, "invalid_request_error", "invalid_value", param, message);
    }

    /**
     * The HTTP form of a domain refusal. {@code field} names {@link io.diem.v1.GenerateRequest}'s fields;
     * {@code chat} is {@code messages} in this API.
     */
    static HttpApiException of(GatewayException e) {
        String message = e.getMessage();
        return switch (e.kind()) {
            case INVALID_ARGUMENT, FAILED_PRECONDITION -> {
                String field = e.details().get("field");
                yield invalid("chat".equals(field) ? "messages" : field, message);
            }
            case UNAUTHENTICATED -> new HttpApiException(HttpResponseStatus.UNAUTHORIZED, "authentication_error", "invalid_api_key",
                    null, message);
            case PERMISSION_DENIED -> new HttpApiException(HttpResponseStatus.FORBIDDEN, "permission_error", "permission_denied",
                    null, message);
            case NOT_FOUND -> new HttpApiException(HttpResponseStatus.NOT_FOUND, "invalid_request_error", "model_not_found",
                    "model", message);
            case ALREADY_EXISTS -> new HttpApiException(HttpResponseStatus.CONFLICT, "invalid_request_error", "conflict", null, message);
            case RESOURCE_EXHAUSTED -> "INSUFFICIENT_CREDIT".equals(e.reason())
                    ? new HttpApiException(HttpResponseStatus.PAYMENT_REQUIRED, "insufficient_credit", "insufficient_credit", null,
                            message, e.details())
                    : new HttpApiException(HttpResponseStatus.TOO_MANY_REQUESTS, "rate_limit_error", "concurrency_limit", null,
                            message, e.details());
            case UNAVAILABLE -> new HttpApiException(HttpResponseStatus.SERVICE_UNAVAILABLE, "service_unavailable", "unavailable",
                    null, message);
            case DEADLINE_EXCEEDED -> new HttpApiException(HttpResponseStatus.GATEWAY_TIMEOUT, "timeout", "deadline_exceeded", null,
                    message);
            case CANCELLED -> new HttpApiException(HttpResponseStatus.valueOf(499, "Client Closed Request"), "cancelled", "cancelled",
                    null, message);
        };
    }
}
