package io.diem.gateway.api;

import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerViews;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

/**
 * Adds the caller's credit as it stood before the call to the response headers of every inference
 * call (or its trailers when the call fails before any header): remaining, allowance and reset time,
 * in the spirit of the rate-limit headers established APIs send. Runs after authentication.
 */
public final class BalanceHeadersInterceptor implements ServerInterceptor {

    public static final Metadata.Key<String> REMAINING = Metadata.Key.of("x-diem-balance-remaining-micro-usd", Metadata.ASCII_STRING_MARSHALLER);
    public static final Metadata.Key<String> ALLOWANCE = Metadata.Key.of("x-diem-balance-allowance-micro-usd", Metadata.ASCII_STRING_MARSHALLER);
    public static final Metadata.Key<String> RESETS = Metadata.Key.of("x-diem-balance-resets-at", Metadata.ASCII_STRING_MARSHALLER);

    private final Ledger ledger;

    public BalanceHeadersInterceptor(Ledger ledger) {
        this.ledger = ledger;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        LedgerViews.Balance balance;
        try {
            balance = ledger.balance(Caller.key().accountId());
        } catch (RuntimeException e) {
            return next.startCall(call, headers); // the handler reports the ledger problem itself
        }
        return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            private boolean sent;

            @Override
            public void sendHeaders(Metadata h) {
                put(h, balance);
                sent = true;
                super.sendHeaders(h);
            }

            @Override
            public void close(Status status, Metadata trailers) {
                if (!sent) {
                    put(trailers, balance);
                }
                super.close(status, trailers);
            }
        }, headers);
    }

    private static void put(Metadata m, LedgerViews.Balance b) {
        m.put(REMAINING, Long.toString(b.remaining()));
        m.put(ALLOWANCE, Long.toString(b.allowance()));
        m.put(RESETS, b.resetsAt().toString());
    }
}
