package io.diem.common;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class UnixMicrosTest {

    @Test
    void microsecondsRoundTripAndDaysAreUtc() {
        Instant t = Instant.parse("2026-12-01T23:59:59.999999Z");
        long micros = UnixMicros.of(t);
        assertThat(micros).isEqualTo(1_796_169_599_999_999L);
        assertThat(UnixMicros.instant(micros)).isEqualTo(t);
        assertThat(UnixMicros.now(Clock.fixed(t, ZoneOffset.UTC))).isEqualTo(micros);
        assertThat(UnixMicros.day(micros)).isEqualTo("2026-12-01");
        assertThat(UnixMicros.day(micros + 1)).isEqualTo("2026-12-02");
        assertThat(UnixMicros.startOfDay("2026-12-02")).isEqualTo(micros + 1);
    }

    @Test
    void zeroMeansNeverAndTimesBeforeTheEpochFloor() {
        assertThat(UnixMicros.instant(0)).isNull();
        assertThat(UnixMicros.instant(-1)).isEqualTo(Instant.parse("1969-12-31T23:59:59.999999Z"));
        assertThat(UnixMicros.day(-1)).isEqualTo("1969-12-31");
    }
}
