package io.diem.agent.engine.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The CPU engine bills CPU time actually used, not the wall time its workers took: a worker that
 * waits (off-CPU: descheduled on a busy host, or here sleeping) inside a task bills nothing for the
 * wait.
 */
class CpuMeteringTest {

    @Test
    void aWorkerBillsTheCpuTimeOfItsTasksNotTheirWallTime() {
        Assumptions.assumeTrue(ManagementFactory.getThreadMXBean().isCurrentThreadCpuTimeSupported(),
                "this JVM cannot read a thread's CPU time");
        try (WorkerTeam team = new WorkerTeam(2, "metering-test")) {
            long wallStart = System.nanoTime();
            for (int i = 0; i < 5; i++) {
                team.run((part, parts) -> {
                    if (part > 0) {
                        try {
                            Thread.sleep(20); // off-CPU, as a descheduled thread is
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                });
            }
            long wall = System.nanoTime() - wallStart;
            // Two workers × five tasks × 20 ms asleep = 200 ms of wall time in tasks; their CPU time is a sliver of it.
            assertThat(wall).isGreaterThanOrEqualTo(100_000_000L);
            assertThat(team.taskNanos()).as("metered %d ns for tasks that slept 200 ms", team.taskNanos())
                    .isLessThan(20_000_000L);
        }
    }
}
