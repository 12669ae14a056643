package io.diem.gateway.ledger;

import java.math.BigDecimal;
import java.math.RoundingMode;

/** Micro-unit conversions: every amount in the ledger is an integer count of 1e-6 of a token or dollar. */
public final class Units {

    public static final double MICRO = 1_000_000.0;
    public static final long MICROS_PER_UNIT = 1_000_000L;

    private Units() {}

    /** Parses a decimal amount of whole units ("12.5") into micro-units, refusing more than 6 decimals. */
    public static long parseMicro(String decimal) {
        BigDecimal value;
        try {
            value = new BigDecimal(decimal.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + decimal + "' is not a number");
        }
        try {
            return value.movePointRight(6).setScale(0, RoundingMode.UNNECESSARY).longValueExact();
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("'" + decimal + "' has more than 6 decimals or is too large");
        }
    }

    /** Formats micro-units as a decimal of whole units without trailing zeros ("12.5"). */
    public static String format(long micro) {
        return BigDecimal.valueOf(micro, 6).stripTrailingZeros().toPlainString();
    }
}
