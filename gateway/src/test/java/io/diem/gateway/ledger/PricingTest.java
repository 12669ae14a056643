package io.diem.gateway.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PricingTest {

    @Test
    void chargeSumsExactlyThenRoundsUpOnce() {
        // $0.20 per 1M prompt tokens, $0.60 per 1M completion tokens, $0.0005 per GPU-second.
        Pricing p = new Pricing("m", 200_000, 600_000, 500);
        // 1,000 prompt → 200,000,000 ; 500 completion → 300,000,000 ; 1.5 GPU-s → 750,000,000 ⇒ 1,250,000,000 / 1e6 = 1,250
        assertThat(p.chargeMicroUsd(1_000, 500, 1_500_000)).isEqualTo(1_250);
        // one token: 0.2 µUSD exactly → rounds up to 1
        assertThat(p.chargeMicroUsd(1, 0, 0)).isEqualTo(1);
        assertThat(p.chargeMicroUsd(0, 0, 0)).isZero();
        // the parts are summed before rounding: 3 × 0.2 + 1 × 0.6 = 1.2 → 2, not 1 + 1 = 2 … and 5 × 0.2 = 1 exactly
        assertThat(p.chargeMicroUsd(5, 0, 0)).isEqualTo(1);
        assertThat(p.chargeMicroUsd(3, 1, 0)).isEqualTo(2);
    }

    @Test
    void chargeGrowsWithEveryCountSoTheWorstCaseBoundsIt() {
        Pricing p = new Pricing("m", 123_457, 987_653, 77);
        long worst = p.chargeMicroUsd(4096, 512, 30_000_000);
        for (long prompt : new long[] {0, 1, 4000, 4096}) {
            for (long completion : new long[] {0, 7, 512}) {
                for (long gpu : new long[] {0, 999_999, 30_000_000}) {
                    assertThat(p.chargeMicroUsd(prompt, completion, gpu)).isLessThanOrEqualTo(worst);
                }
            }
        }
    }
}
