package io.diem.gateway.api;

import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerViews.ApiKey;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.Optional;

/**
 * Authenticates {@code authorization: Bearer <key>}. Missing, malformed, unknown and revoked keys all
 * get the same UNAUTHENTICATED answer, and all but a missing header take the same path (hash, look
 * up, check revocation), so the response does not tell which it was.
 */
public final class ApiKeyInterceptor implements ServerInterceptor {

    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final String BEARER = "Bearer ";

    private final Ledger ledger;

    public ApiKeyInterceptor(Ledger ledger) {
        this.ledger = ledger;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String header = headers.get(AUTHORIZATION);
        String secret = header != null && header.regionMatches(true, 0, BEARER, 0, BEARER.length())
                ? header.substring(BEARER.length()).strip() : "";
        Optional<ApiKey> key;
        try {
            key = ledger.authenticate(secret);
        } catch (RuntimeException e) {
            call.close(Status.UNAVAILABLE.withDescription("cannot check the API key: the ledger is unavailable"), new Metadata());
            return new ServerCall.Listener<>() {};
        }
        if (key.isEmpty()) {
            call.close(Status.UNAUTHENTICATED.withDescription(
                    "missing or invalid API key (send 'authorization: Bearer <key>')"), new Metadata());
            return new ServerCall.Listener<>() {};
        }
        Context context = Context.current().withValue(Caller.KEY, key.get());
        return Contexts.interceptCall(context, call, headers, next);
    }
}
