package io.diem.agent.journal;

import static org.assertj.core.api.Assertions.assertThat;

import io.diem.v1.FinishReason;
import io.diem.v1.UsageReceipt;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A run that stops while jobs run leaves, for each, the receipt of its last journaled progress, marked interrupted. */
class JobLogTest {

    @TempDir
    Path dir;

    private static UsageReceipt progress(String job, int tokens, long computeMicros) {
        return UsageReceipt.newBuilder().setJobId(job).setModel("tiny").setPromptTokens(3).setCompletionTokens(tokens)
                .setGpuMicros(computeMicros).setStartedAtUnixMicros(1_000).setFinishedAtUnixMicros(2_000 + tokens).build();
    }

    @Test
    void jobsThatStartedAndNeverEndedBecomeInterruptedReceiptsWithTheirLastProgress() throws Exception {
        JobLog first = JobLog.open(dir);
        assertThat(first.interrupted()).isEmpty();
        first.started(progress("a", 0, 0));
        first.started(progress("b", 0, 0));
        first.progress(List.of(progress("a", 5, 900), progress("b", 2, 400)));
        first.finished("b"); // b's receipt is in the usage journal
        first.progress(List.of(progress("a", 9, 1_700)));
        // the process dies here: no close

        JobLog second = JobLog.open(dir);
        assertThat(second.interrupted()).singleElement().satisfies(r -> {
            assertThat(r.getJobId()).isEqualTo("a");
            assertThat(r.getCompletionTokens()).isEqualTo(9);
            assertThat(r.getGpuMicros()).isEqualTo(1_700);
            assertThat(r.getFinishReason()).isEqualTo(FinishReason.FINISH_REASON_INTERRUPTED);
        });
        second.clear();
        second.close();
        first.close();
        assertThat(JobLog.open(dir).interrupted()).as("reported once, then forgotten").isEmpty();
    }

    @Test
    void compactionKeepsOnlyTheJobsStillRunning() throws Exception {
        try (JobLog log = JobLog.open(dir)) {
            for (int i = 0; i < 50; i++) {
                log.started(progress("done-" + i, 0, 0));
                log.finished("done-" + i);
            }
            log.started(progress("live", 0, 0));
            log.compact(List.of(progress("live", 4, 300)));
        }
        assertThat(JobLog.open(dir).interrupted()).extracting(UsageReceipt::getJobId).containsExactly("live");
        assertThat(java.nio.file.Files.size(dir.resolve("jobs.log"))).isLessThan(200);
    }
}
