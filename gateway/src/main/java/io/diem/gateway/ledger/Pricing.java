package io.diem.gateway.ledger;

import io.diem.gateway.error.GatewayException;
import java.math.BigInteger;

/**
 * A model's prices and the charge of a job. Rounding (documented for users): the three parts are
 * summed exactly in µUSD × 1e-6 and rounded up once, so a job is never charged less than its exact
 * price and never more than one µUSD above it. Every part grows with its count, so the charge of a
 * job within its ticket's limits never exceeds the worst case reserved for it.
 *
 * @param promptPerMillion µUSD per 1,000,000 prompt tokens
 * @param completionPerMillion µUSD per 1,000,000 completion tokens
 * @param perGpuSecond µUSD per GPU-second (1,000,000 GPU-microseconds)
 */
public record Pricing(String model, long promptPerMillion, long completionPerMillion, long perGpuSecond) {

    private static final BigInteger MILLION = BigInteger.valueOf(1_000_000);

    public Pricing {
        if (promptPerMillion < 0 || completionPerMillion < 0 || perGpuSecond < 0) {
            throw new GatewayException(GatewayException.Kind.INVALID_ARGUMENT,
                    "prices must be >= 0 µUSD (model " + model + ")");
        }
    }

    /** µUSD charged for a job that used these counts. */
    public long chargeMicroUsd(long promptTokens, long completionTokens, long gpuMicros) {
        BigInteger scaled = BigInteger.valueOf(promptTokens).multiply(BigInteger.valueOf(promptPerMillion))
                .add(BigInteger.valueOf(completionTokens).multiply(BigInteger.valueOf(completionPerMillion)))
                .add(BigInteger.valueOf(gpuMicros).multiply(BigInteger.valueOf(perGpuSecond)));
        BigInteger[] qr = scaled.divideAndRemainder(MILLION);
        BigInteger charge = qr[1].signum() > 0 ? qr[0].add(BigInteger.ONE) : qr[0];
        return charge.longValueExact();
    }
}
