package io.diem.agent.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** nvidia-smi's CSV read into DCGM-style gauges; "[N/A]" fields become NaN, not a failure. */
class GpuTelemetryTest {

    /** Two H200s as nvidia-smi prints them for GpuTelemetry.QUERY (the second without a power reading). */
    private static final String CSV = """
            0, GPU-1f8a2b3c-0000-1111-2222-333344445555, NVIDIA H200, 87, 512.34, 61, 81234
            1, GPU-9e8d7c6b-0000-1111-2222-333344445555, NVIDIA H200, 0, [N/A], 34, 0
            """;

    @TempDir
    Path dir;

    @Test
    void parsesEveryFieldInBaseUnits() {
        List<GpuTelemetry.Reading> r = GpuTelemetry.parse(CSV);
        assertThat(r).hasSize(2);
        assertThat(r.get(0).index()).isEqualTo("0");
        assertThat(r.get(0).uuid()).isEqualTo("GPU-1f8a2b3c-0000-1111-2222-333344445555");
        assertThat(r.get(0).name()).isEqualTo("NVIDIA H200");
        assertThat(r.get(0).utilizationRatio()).isEqualTo(0.87);
        assertThat(r.get(0).powerWatts()).isEqualTo(512.34);
        assertThat(r.get(0).temperatureCelsius()).isEqualTo(61.0);
        assertThat(r.get(0).memoryUsedBytes()).isEqualTo(81234.0 * 1024 * 1024);
        assertThat(r.get(1).powerWatts()).isNaN();
        assertThat(GpuTelemetry.parse("garbage\n\n1,2\n")).isEmpty();
    }

    @Test
    void publishesDcgmLabelledGaugesThatFollowEachReading() throws Exception {
        Path fake = dir.resolve("nvidia-smi");
        Files.writeString(fake, "#!/bin/sh\ncat \"" + dir.resolve("out.csv") + "\"\n");
        Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwx------"));
        Files.writeString(dir.resolve("out.csv"), CSV);
        AgentMetrics metrics = new AgentMetrics();
        GpuTelemetry t = new GpuTelemetry(metrics, List.of(fake.toString()));
        t.publish(t.read());
        String scrape = metrics.scrape();
        assertThat(scrape).contains("diem_agent_gpu_utilization_ratio{UUID=\"GPU-1f8a2b3c-0000-1111-2222-333344445555\",gpu=\"0\","
                + "modelName=\"NVIDIA H200\"} 0.87");
        assertThat(scrape).contains("diem_agent_gpu_power_watts{UUID=\"GPU-1f8a2b3c-0000-1111-2222-333344445555\",gpu=\"0\","
                + "modelName=\"NVIDIA H200\"} 512.34");
        assertThat(scrape).contains("diem_agent_gpu_temperature_celsius{UUID=\"GPU-9e8d7c6b-0000-1111-2222-333344445555\",gpu=\"1\","
                + "modelName=\"NVIDIA H200\"} 34.0");
        Files.writeString(dir.resolve("out.csv"), CSV.replace(", 87,", ", 12,"));
        t.publish(t.read());
        assertThat(metrics.scrape()).contains("modelName=\"NVIDIA H200\"} 0.12");
        assertThat(new GpuTelemetry(metrics, List.of(dir.resolve("missing").toString())).read()).isEmpty();
    }
}
