package io.diem.gateway.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class MintCurveTest {

    private final MintCurve curve = MintCurve.defaults();

    @Test
    void rateAfterTenThousandMintedIsThePublishedPoint() {
        // Live DIEM published ~93.34 sVVV per DIEM after 10,000 minted; this curve gives 93.29.
        assertThat(curve.rate(10_000_000_000L)).isCloseTo(93.29, within(0.005));
        assertThat(curve.rate(0)).isEqualTo(90.0);
    }

    @Test
    void costIsTheClosedFormIntegral() {
        long supply = 5_000_000_000L; // 5,000 DIEM
        long amount = 1_000_000_000L; // 1,000 DIEM
        double exact = 90 * 38_000 * (Math.asin(6_000.0 / 38_000) - Math.asin(5_000.0 / 38_000));
        assertThat(curve.costMicro(supply, amount) / 1e6).isCloseTo(exact, within(2e-6));
    }

    @Test
    void oneMintOfTenCostsExactlyTenMintsOfOne() {
        long supply = 12_345_678_901L;
        long one = 1_000_000;
        long sum = 0;
        for (int i = 0; i < 10; i++) {
            sum += curve.costMicro(supply + i * one, one);
        }
        assertThat(sum).isEqualTo(curve.costMicro(supply, 10 * one));
    }

    @Test
    void numericIntegrationAgreesWithTheClosedFormAtTwo() {
        for (double s : new double[] {1, 10_000, 20_000, 37_000}) {
            assertThat(curve.integrate(s)).isCloseTo(90 * 38_000 * Math.asin(s / 38_000), within(1e-4));
        }
        MintCurve p3 = new MintCurve(90, 38_000, 3);
        assertThat(p3.costMicro(0, 1_000_000)).isBetween(90_000_000L, 90_000_100L); // ≈ base near zero supply
    }

    @Test
    void supplyNeverReachesTheAsymptote() {
        long t = curve.asymptoteMicro();
        assertThat(curve.fits(t - 2, 1)).isTrue();
        assertThat(curve.fits(t - 1, 1)).isFalse();
        assertThat(curve.fits(0, t)).isFalse();
    }
}
