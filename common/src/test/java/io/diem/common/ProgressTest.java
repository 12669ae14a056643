package io.diem.common;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** A percentage redrawn on a terminal; exactly one line elsewhere (journald, pipes, CI logs). */
class ProgressTest {

    @Test
    void offATerminalOneLineWhenDone() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Progress p = Progress.of(new PrintStream(bytes, true, StandardCharsets.UTF_8), "loading m", 2_000_000_000L, false);
        for (int i = 0; i < 20; i++) {
            p.add(100_000_000L);
        }
        assertThat(bytes.toString(StandardCharsets.UTF_8)).isEmpty();
        p.done();
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertThat(out).matches("loading m: 2\\.00 GB in [0-9.]+ s\\n");
    }

    @Test
    void onATerminalAPercentageThenTheFinalLine() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Progress p = Progress.of(new PrintStream(bytes, true, StandardCharsets.UTF_8), "writing w", 1_000_000_000L, true);
        p.add(250_000_000L);
        Thread.sleep(150);
        p.add(250_000_000L);
        p.done();
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertThat(out).startsWith("\rwriting w:  25% (0.25 of 1.00 GB)").contains("\rwriting w:  50% (0.50 of 1.00 GB)")
                .endsWith("\n").contains("\rwriting w: 100% (0.50 GB) in ");
        assertThat(out.chars().filter(c -> c == '\n').count()).isEqualTo(1);
    }

    @Test
    void noStreamReportsNothing() {
        Progress p = Progress.of(null, "x", 10);
        p.add(5);
        p.done(); // no output, no failure
    }
}
