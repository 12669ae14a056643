package io.diem.gateway.ledger;

import java.time.Duration;

/**
 * The ledger's parameters (ARCHITECTURE §4), each overridable in the gateway config.
 *
 * @param vvvCooldown time from unstaking VVV until it can be withdrawn (default 7 days)
 * @param diemCooldown time from unstaking DIEM until it returns to the liquid balance (default 1 day)
 * @param minStakeMicro staked DIEM below this earns no credit, in µDIEM (default 0.1 DIEM)
 * @param reservationTtl how long a reservation holds credit before it expires (default 10 minutes)
 */
public record LedgerConfig(MintCurve curve, Duration vvvCooldown, Duration diemCooldown, long minStakeMicro,
        Duration reservationTtl) {

    public static LedgerConfig defaults() {
        return new LedgerConfig(MintCurve.defaults(), Duration.ofDays(7), Duration.ofDays(1), 100_000,
                Duration.ofMinutes(10));
    }
}
