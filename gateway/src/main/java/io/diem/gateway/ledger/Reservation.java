package io.diem.gateway.ledger;

import io.diem.gateway.ledger.LedgerViews.Balance;
import java.time.Instant;
import java.util.Locale;

/**
 * Credit held for one call: a pending transfer of at most {@code amount} µUSD that is later posted
 * (charged, for at most that amount), voided (released) or expired.
 *
 * @param balanceAfter the account's balance right after the reservation was made (null when read back)
 */
public record Reservation(String reservationId, String accountId, String keyId, long amount, State state,
        Instant expiresAt, Balance balanceAfter) {

    /** pending → posted | voided | expired; the last three are final. */
    public enum State {
        PENDING, POSTED, VOIDED, EXPIRED;

        /** The value stored in {@code reservations.state}. */
        String column() {
            return name().toLowerCase(Locale.ROOT);
        }

        static State ofColumn(String value) {
            return valueOf(value.toUpperCase(Locale.ROOT));
        }

        /** Only a pending reservation moves, and only to a final state. */
        boolean canBecome(State next) {
            return this == PENDING && next != PENDING;
        }
    }
}
