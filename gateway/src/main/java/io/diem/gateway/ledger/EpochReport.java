package io.diem.gateway.ledger;

import java.math.BigInteger;
import java.util.List;

/**
 * A closed epoch (a UTC day): its fees, the compute sold and offered, and every payout, with the
 * Merkle root over the payouts. Amounts in µUSD, compute in µs, stake in µVVV.
 */
public record EpochReport(String epoch, long closedAt, long fees, long gpuMicrosSold, long gpuMicrosOffered,
        long providerPayout, long stakerPayout, long averageVvvStaked, byte[] merkleRoot, List<Payout> payouts) {

    /** One recipient's share of an epoch's fees. */
    public record Payout(Recipient kind, String recipient, long amount) {}

    /** Who a payout goes to; stored as its lower-case name. */
    public enum Recipient {
        PROVIDER, STAKER;

        public String column() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public long utilizationPpm() {
        return gpuMicrosOffered == 0 ? 0 : BigInteger.valueOf(gpuMicrosSold).multiply(BigInteger.valueOf(1_000_000))
                .divide(BigInteger.valueOf(gpuMicrosOffered)).longValue();
    }

    /** µUSD per whole VVV staked, for the epoch. */
    public long yieldPerVvv() {
        return averageVvvStaked == 0 ? 0 : BigInteger.valueOf(stakerPayout).multiply(BigInteger.valueOf(1_000_000))
                .divide(BigInteger.valueOf(averageVvvStaked)).longValue();
    }

    /** µUSD per whole VVV per year, if every day paid like this one (simple, × 365). */
    public long yieldPerVvvAnnualised() {
        return yieldPerVvv() * 365;
    }
}
