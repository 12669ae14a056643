package io.diem.agent.metrics;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Per-GPU utilisation, power, temperature and memory with the meaning DCGM's exporter gives them
 * ({@code DCGM_FI_DEV_GPU_UTIL}, {@code _POWER_USAGE}, {@code _GPU_TEMP}, {@code _FB_USED}), read by
 * polling {@code nvidia-smi --query-gpu} (it ships with the driver) and published as
 * {@code diem_agent_gpu_utilization_ratio}, {@code _power_watts}, {@code _temperature_celsius} and
 * {@code _framebuffer_used_bytes}, labelled {@code gpu}, {@code UUID}, {@code modelName} as DCGM labels
 * them. A host without {@code nvidia-smi} publishes none of them (one log line says so).
 */
public final class GpuTelemetry {

    private static final Logger LOG = Logger.getLogger(GpuTelemetry.class.getName());
    static final String QUERY = "index,uuid,name,utilization.gpu,power.draw,temperature.gpu,memory.used";

    /** One GPU's reading; NaN where nvidia-smi said "[N/A]". */
    record Reading(String index, String uuid, String name, double utilizationRatio, double powerWatts, double temperatureCelsius,
            double memoryUsedBytes) {}

    private final AgentMetrics metrics;
    private final List<String> command;
    private final Map<String, Reading> latest = new ConcurrentHashMap<>();

    GpuTelemetry(AgentMetrics metrics, List<String> command) {
        this.metrics = metrics;
        this.command = command;
    }

    /** Polls every {@code seconds} on {@code scheduler} when nvidia-smi answers; returns whether it did. */
    public static boolean start(AgentMetrics metrics, ScheduledExecutorService scheduler, long seconds) {
        GpuTelemetry t = new GpuTelemetry(metrics, List.of("nvidia-smi", "--query-gpu=" + QUERY, "--format=csv,noheader,nounits"));
        List<Reading> first = t.read();
        if (first.isEmpty()) {
            LOG.info("no GPU telemetry: nvidia-smi is not available or lists no GPU");
            return false;
        }
        t.publish(first);
        scheduler.scheduleWithFixedDelay(() -> {
            List<Reading> r = t.read();
            if (!r.isEmpty()) {
                t.publish(r);
            }
        }, seconds, seconds, TimeUnit.SECONDS);
        return true;
    }

    /** The readings nvidia-smi gives now; empty when it cannot run. */
    List<Reading> read() {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(false).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                return List.of();
            }
            return parse(out);
        } catch (IOException e) {
            return List.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return List.of();
        }
    }

    /** Rows of {@code nvidia-smi --query-gpu=QUERY --format=csv,noheader,nounits}. */
    static List<Reading> parse(String csv) {
        List<Reading> out = new ArrayList<>();
        for (String line : csv.split("\n")) {
            String[] f = line.split(",", -1);
            if (f.length != 7) {
                continue;
            }
            out.add(new Reading(f[0].strip(), f[1].strip(), f[2].strip(), number(f[3]) / 100, number(f[4]), number(f[5]),
                    number(f[6]) * 1024 * 1024));
        }
        return out;
    }

    private static double number(String s) {
        try {
            return Double.parseDouble(s.strip());
        } catch (NumberFormatException e) {
            return Double.NaN; // "[N/A]", "[Not Supported]"
        }
    }

    void publish(List<Reading> readings) {
        for (Reading r : readings) {
            if (latest.put(r.uuid(), r) == null) {
                String[] tags = {"gpu", r.index(), "UUID", r.uuid(), "modelName", r.name()};
                metrics.gauge("diem.agent.gpu.utilization.ratio", "Share of time a kernel ran on the GPU over the last sample "
                        + "period (nvidia-smi utilization.gpu; DCGM_FI_DEV_GPU_UTIL / 100)", () -> latest.get(r.uuid()).utilizationRatio(), tags);
                metrics.gauge("diem.agent.gpu.power.watts", "Power draw of the GPU (nvidia-smi power.draw; DCGM_FI_DEV_POWER_USAGE)",
                        () -> latest.get(r.uuid()).powerWatts(), tags);
                metrics.gauge("diem.agent.gpu.temperature.celsius", "GPU core temperature (nvidia-smi temperature.gpu; DCGM_FI_DEV_GPU_TEMP)",
                        () -> latest.get(r.uuid()).temperatureCelsius(), tags);
                metrics.gauge("diem.agent.gpu.framebuffer.used.bytes", "Framebuffer memory in use by all processes "
                        + "(nvidia-smi memory.used; DCGM_FI_DEV_FB_USED in bytes)", () -> latest.get(r.uuid()).memoryUsedBytes(), tags);
            }
        }
    }
}
