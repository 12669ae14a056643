package io.diem.gateway.ledger;

import java.time.Instant;

/** The read models the ledger returns. Amounts in micro-units; instants in UTC. */
public final class LedgerViews {

    private LedgerViews() {}

    /** Today's credit of one account, in µUSD. */
    public record Balance(String accountId, long allowance, long spent, long reserved, long remaining,
            Instant resetsAt) {}

    public record Account(String accountId, String name, Instant createdAt, long vvv, long svvv, long svvvLocked,
            long vvvUnstaking, Instant vvvUnstakingUntil, long diem, long diemStaked, long diemUnstaking,
            Instant diemUnstakingUntil, long diemMinted, Balance balance) {}

    public enum Scope { INFERENCE, ADMIN }

    public record ApiKey(String keyId, String accountId, Scope scope, long dailyLimit, String label, Instant createdAt,
            Instant revokedAt) {
        public boolean revoked() {
            return revokedAt != null;
        }
    }

    /** A new key: the secret is shown once and never stored. */
    public record CreatedKey(ApiKey key, String secret) {}

    /**
     * @param svvvCost µVVV locked by the mint (C(S+q) − C(S))
     * @param averageRate µVVV per whole DIEM over this mint
     * @param marginalRateAfter µVVV per whole DIEM at the supply after the mint
     */
    public record MintQuote(long diem, long svvvCost, long averageRate, long marginalRateAfter, long supplyBefore,
            long supplyAfter) {}

    public record UsageRecord(String jobId, String accountId, String keyId, String model, String nodeId,
            long promptTokens, long completionTokens, long gpuMicros, String computeKind, long cost,
            String finishReason, Instant bookedAt) {}

    /** What a posted reservation charged. */
    public record Charge(String reservationId, long reserved, long charged, boolean alreadyPosted, Balance balanceAfter) {}
}
