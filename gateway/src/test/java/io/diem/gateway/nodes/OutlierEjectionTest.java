package io.diem.gateway.nodes;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class OutlierEjectionTest {

    private final AtomicLong now = new AtomicLong();
    private final OutlierEjection outliers = new OutlierEjection(now::get);

    @Test
    void threeFailuresInARowEjectForABackOffThatDoublesAndASuccessClearsEverything() {
        outliers.failed("n");
        assertThat(outliers.unproven("n")).isTrue(); // one failure: picked only when no proven node can take the job
        outliers.failed("n");
        assertThat(outliers.ejected("n")).isFalse();
        outliers.failed("n");
        assertThat(outliers.ejected("n")).isTrue();
        now.addAndGet(OutlierEjection.FIRST_EJECTION_NANOS);
        assertThat(outliers.ejected("n")).isFalse(); // back-off over: tried again, still unproven
        assertThat(outliers.unproven("n")).isTrue();
        for (int i = 0; i < OutlierEjection.EJECT_AFTER; i++) {
            outliers.failed("n");
        }
        now.addAndGet(OutlierEjection.FIRST_EJECTION_NANOS);
        assertThat(outliers.ejected("n")).as("the second ejection lasts 2 s").isTrue();
        now.addAndGet(OutlierEjection.FIRST_EJECTION_NANOS);
        assertThat(outliers.ejected("n")).isFalse();
        outliers.succeeded("n");
        assertThat(outliers.unproven("n")).isFalse();
        outliers.failed("n");
        outliers.failed("n");
        assertThat(outliers.ejected("n")).as("the count starts over after a success").isFalse();
    }

    @Test
    void theBackOffNeverExceedsThirtySeconds() {
        for (int round = 0; round < 20; round++) {
            for (int i = 0; i < OutlierEjection.EJECT_AFTER; i++) {
                outliers.failed("n");
            }
            now.addAndGet(OutlierEjection.MAX_EJECTION_NANOS);
            assertThat(outliers.ejected("n")).as("round %d", round).isFalse();
        }
    }
}
