package io.diem.gateway.api;

import io.diem.gateway.ledger.LedgerViews.ApiKey;
import io.diem.gateway.ledger.LedgerViews.Scope;
import io.grpc.Context;
import io.grpc.Status;

/** The authenticated key of the current call, and the account-scoping rules every service applies. */
public final class Caller {

    static final Context.Key<ApiKey> KEY = Context.key("diem-api-key");

    private Caller() {}

    /** The key that authenticated this call (the interceptor guarantees there is one). */
    public static ApiKey key() {
        ApiKey key = KEY.get();
        if (key == null) {
            throw Status.UNAUTHENTICATED.withDescription("missing or invalid API key").asRuntimeException();
        }
        return key;
    }

    public static boolean isAdmin() {
        return key().scope() == Scope.ADMIN;
    }

    /** Admin-only RPCs. */
    public static void requireAdmin() {
        if (!isAdmin()) {
            throw Status.PERMISSION_DENIED.withDescription("this method needs an admin key; key " + key().keyId()
                    + " has scope inference").asRuntimeException();
        }
    }

    /**
     * The account a request may act on: its own account when {@code requested} is empty; any account
     * for admin keys; otherwise PERMISSION_DENIED.
     */
    public static String account(String requested) {
        ApiKey key = key();
        if (requested == null || requested.isEmpty() || requested.equals(key.accountId())) {
            return key.accountId();
        }
        if (key.scope() == Scope.ADMIN) {
            return requested;
        }
        throw Status.PERMISSION_DENIED.withDescription("key " + key.keyId() + " may act only on its own account "
                + key.accountId() + ", not " + requested).asRuntimeException();
    }
}
