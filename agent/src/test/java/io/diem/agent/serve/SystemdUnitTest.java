package io.diem.agent.serve;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's unit file passes systemd-analyze verify and keeps the hardening the GPU needs. */
class SystemdUnitTest {

    @TempDir
    Path dir;

    @Test
    void unitVerifiesAndIsHardenedForAGpuJvm() throws Exception {
        Path unit = Path.of("..", "systemd", "diem-agent.service");
        String text = Files.readString(unit);
        assertThat(text).contains("NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=diem-agent",
                "DevicePolicy=closed", "DeviceAllow=/dev/nvidiactl rw", "Restart=on-failure", "KillSignal=SIGTERM",
                "User=diem-agent");
        assertThat(text).doesNotContainPattern("(?m)^MemoryDenyWriteExecute=").doesNotContainPattern("(?m)^PrivateDevices=");

        Path analyze = Path.of("/usr/bin/systemd-analyze");
        Assumptions.assumeTrue(Files.isExecutable(analyze), "systemd-analyze is not installed; skipping verify");
        // verify checks that ExecStart exists: point it at a stand-in inside the temp dir
        Path bin = Files.createDirectories(dir.resolve("bin")).resolve("diem-agent");
        Files.writeString(bin, "#!/bin/sh\n");
        bin.toFile().setExecutable(true);
        Path copy = dir.resolve("diem-agent.service");
        Files.writeString(copy, text.replace("/opt/diem-compute/bin/diem-agent", bin.toString()));
        Process p = new ProcessBuilder(analyze.toString(), "verify", copy.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("systemd-analyze verify said:%n%s", out).isZero();
        assertThat(out).doesNotContain("Unknown key", "Invalid", "Failed to parse");
    }
}
