package io.diem.agent.serve;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The units pass systemd-analyze verify, keep the hardening a GPU JVM needs, check their configuration
 * before starting, and score at most 2.5 in {@code systemd-analyze security} (lower is safer).
 */
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

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"diem-agent", "diem-gateway"})
    void unitsCheckTheirConfigFirstAndScoreAtMostTwoAndAHalf(String name) throws Exception {
        Path unit = Path.of("..", "systemd", name + ".service");
        String text = Files.readString(unit);
        assertThat(text).contains("ExecStartPre=/opt/diem-compute/bin/" + name + " check-config --offline",
                "SystemCallFilter=@system-service", "SystemCallErrorNumber=EPERM", "RestrictAddressFamilies=");
        Path analyze = Path.of("/usr/bin/systemd-analyze");
        Assumptions.assumeTrue(Files.isExecutable(analyze), "systemd-analyze is not installed; skipping the security score");
        Process p = new ProcessBuilder(analyze.toString(), "security", "--offline=true", unit.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("Overall exposure level for \\S+: ([0-9.]+)").matcher(out);
        assertThat(m.find()).as(out).isTrue();
        assertThat(Double.parseDouble(m.group(1))).as("systemd-analyze security of %s", name).isLessThanOrEqualTo(2.5);
    }
}
