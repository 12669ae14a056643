package io.diem.common;

import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;

/**
 * Wall-clock time as integer microseconds since 1970-01-01T00:00Z, the unit every stored and signed
 * timestamp uses. A UTC day is written {@code YYYY-MM-DD}. Durations measured on one machine use
 * {@link System#nanoTime()} instead; the two are never mixed.
 */
public final class UnixMicros {

    public static final long PER_SECOND = 1_000_000L;
    public static final long PER_DAY = 86_400L * PER_SECOND;

    private UnixMicros() {}

    public static long now(Clock clock) {
        return of(clock.instant());
    }

    public static long of(Instant instant) {
        return Math.addExact(Math.multiplyExact(instant.getEpochSecond(), PER_SECOND), instant.getNano() / 1000);
    }

    /** The instant of {@code micros}; {@code null} for 0, the stored value of "never". */
    public static Instant instant(long micros) {
        return micros == 0 ? null : Instant.ofEpochSecond(Math.floorDiv(micros, PER_SECOND), Math.floorMod(micros, PER_SECOND) * 1000);
    }

    /** The UTC day that contains {@code micros}. */
    public static String day(long micros) {
        return LocalDate.ofEpochDay(Math.floorDiv(micros, PER_DAY)).toString();
    }

    /** The first microsecond of the UTC day {@code day} ({@code YYYY-MM-DD}). */
    public static long startOfDay(String day) {
        return Math.multiplyExact(LocalDate.parse(day).toEpochDay(), PER_DAY);
    }
}
