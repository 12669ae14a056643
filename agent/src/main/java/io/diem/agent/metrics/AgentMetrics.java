package io.diem.agent.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * The agent's metrics, {@code diem_agent_} prefix, base units (seconds, bytes), published in
 * Prometheus text format on the metrics port. One instance per agent; every meter has help text.
 */
public final class AgentMetrics {

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    public AgentMetrics() {
        // Two JVM meters break Prometheus naming rules (promtool: "_count" on a gauge, "ns" as a unit);
        // process_cpu_usage and process_cpu_seconds-style data remain available.
        registry.config().meterFilter(MeterFilter.deny(id -> id.getName().equals("system.cpu.count")
                || id.getName().equals("process.cpu.time")));
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** A finished job: its outcome (finish reason or "error"), tokens, compute, latencies. */
    public void jobFinished(String model, String outcome, long promptTokens, long completionTokens, String device,
            String computeKind, long computeNanos, long firstTokenNanos, long durationNanos) {
        Counter.builder("diem.agent.jobs").description("Jobs finished, by model and outcome")
                .tag("model", model).tag("outcome", outcome.toLowerCase(Locale.ROOT)).register(registry).increment();
        Counter.builder("diem.agent.tokens").description("Tokens processed, by model and kind (prompt or completion)")
                .tag("model", model).tag("kind", "prompt").register(registry).increment(promptTokens);
        Counter.builder("diem.agent.tokens").description("Tokens processed, by model and kind (prompt or completion)")
                .tag("model", model).tag("kind", "completion").register(registry).increment(completionTokens);
        String name = computeKind.equals("gpu") ? "diem.agent.gpu.seconds" : "diem.agent.engine.cpu.seconds";
        String help = computeKind.equals("gpu") ? "Metered GPU-seconds (CUDA event time), by GPU and model"
                : "Metered CPU-seconds of the CPU engine, by model";
        Counter.builder(name).description(help).baseUnit("seconds")
                .tag(computeKind.equals("gpu") ? "gpu" : "device", device).tag("model", model).register(registry)
                .increment(computeNanos / 1e9);
        if (firstTokenNanos > 0) {
            timeToFirstToken(model).record(Duration.ofNanos(firstTokenNanos));
        }
        Timer.builder("diem.agent.job.duration").description("Job wall time from admission to finish, by model")
                .tag("model", model).publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofMinutes(10)).register(registry).record(Duration.ofNanos(durationNanos));
    }

    private Timer timeToFirstToken(String model) {
        return Timer.builder("diem.agent.time.to.first.token").description("Time from admission to the first token, by model")
                .tag("model", model).publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofSeconds(60)).register(registry);
    }

    /**
     * The inter-token latency of {@code model}'s jobs: a job resolves it once and records each gap with
     * {@link #recordGap}.
     */
    public Timer interTokenLatency(String model) {
        return Timer.builder("diem.agent.inter.token.latency").description("Time between consecutive completion tokens of a job, by model")
                .tag("model", model).publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofSeconds(10)).register(registry);
    }

    /**
     * {@code tokens} completion tokens that arrived {@code gapNanos} after the previous ones of their job:
     * each counts as one interval of {@code gapNanos / tokens} (tokens held back together share the gap).
     */
    public static void recordGap(Timer interTokenLatency, long gapNanos, int tokens) {
        Duration each = Duration.ofNanos(gapNanos / Math.max(1, tokens));
        for (int i = 0; i < tokens; i++) {
            interTokenLatency.record(each);
        }
    }

    /** The fsync duration of one journal log ({@code usage} or {@code jobs}). */
    public Timer journalFsync(String journal) {
        return Timer.builder("diem.agent.journal.fsync").description("Duration of one journal fsync (group commit), by journal")
                .tag("journal", journal).publishPercentileHistogram().minimumExpectedValue(Duration.ofNanos(100_000))
                .maximumExpectedValue(Duration.ofSeconds(10)).register(registry);
    }

    public void ticketRejected(String reason) {
        Counter.builder("diem.agent.tickets.rejected").description("Execute calls refused, by reason")
                .tag("reason", reason.toLowerCase(Locale.ROOT)).register(registry).increment();
    }

    public void receiptsShipped(int receipts) {
        Counter.builder("diem.agent.receipts.shipped").description("Receipts sent to the gateway in signed batches (resends included)")
                .register(registry).increment(receipts);
    }

    /** A gauge read from {@code value}, held strongly (Micrometer would otherwise let a lambda be collected). */
    public void gauge(String name, String help, Supplier<Number> value, String... tags) {
        Gauge.builder(name, value).description(help).tags(tags).strongReference(true).register(registry);
    }

    /**
     * A monotonic counter read as {@code value(source)}. Micrometer holds {@code source} weakly, so it must
     * be an object the program keeps (a lambda made here would be collected and the counter would freeze).
     */
    public <T> void counterFunction(String name, String help, String baseUnit, T source,
            java.util.function.ToDoubleFunction<T> value, String... tags) {
        io.micrometer.core.instrument.FunctionCounter.builder(name, source, value)
                .description(help).baseUnit(baseUnit).tags(tags).register(registry);
    }

    /** Registers the counters of a served model at 0, so rates and alerts see them before the first job. */
    public void modelServed(String model) {
        interTokenLatency(model);
        timeToFirstToken(model);
        for (String kind : new String[] {"prompt", "completion"}) {
            Counter.builder("diem.agent.tokens").description("Tokens processed, by model and kind (prompt or completion)")
                    .tag("model", model).tag("kind", kind).register(registry);
        }
    }

    public String scrape() {
        return registry.scrape();
    }
}
