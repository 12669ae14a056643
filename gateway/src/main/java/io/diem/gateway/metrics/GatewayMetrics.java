package io.diem.gateway.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.Locale;
import java.util.function.Supplier;

/** The gateway's metrics, {@code diem_gateway_} prefix, base units, every meter with help text. */
public final class GatewayMetrics {

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    /** Every reason {@link #rejected} is called with, registered at 0 so rates and alerts see them before the first. */
    public static final java.util.List<String> REJECTION_REASONS = java.util.List.of("invalid_request", "unknown_model", "no_node",
            "key_concurrency", "insufficient_credit", "booking_backlog");

    /** Booked receipts and what they charged (the same two counters every time: resolved once). */
    private final Counter receiptsBooked;
    private final Counter charged;

    public GatewayMetrics() {
        REJECTION_REASONS.forEach(this::rejections);
        ledgerErrors("none");
        receiptsBooked = Counter.builder("diem.gateway.receipts.booked").description("Receipts booked as charges").register(registry);
        charged = Counter.builder("diem.gateway.charged").description("Credit charged by booked receipts, in µUSD").baseUnit("micro_usd")
                .register(registry);
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    public void request(String method, String status) {
        Counter.builder("diem.gateway.requests").description("gRPC calls finished, by method and status code")
                .tag("method", method).tag("status", status).register(registry).increment();
    }

    /** An HTTP API request answered: its route and status code (0 when the client left before any answer). */
    public void httpRequest(String route, int status) {
        Counter.builder("diem.gateway.http.requests").description("HTTP API requests answered, by route and status code")
                .tag("route", route).tag("status", Integer.toString(status)).register(registry).increment();
    }

    public void ledgerError(String sqlState) {
        ledgerErrors(sqlState).increment();
    }

    private Counter ledgerErrors(String sqlState) {
        return Counter.builder("diem.gateway.ledger.errors")
                .description("Ledger transactions that failed on a database error (after retries), by SQLSTATE")
                .tag("sqlstate", sqlState).register(registry);
    }

    public void admitted(String model) {
        Counter.builder("diem.gateway.admissions").description("Generate calls admitted (credit reserved), by model")
                .tag("model", model).register(registry).increment();
    }

    public void rejected(String reason) {
        rejections(reason.toLowerCase(Locale.ROOT)).increment();
    }

    private Counter rejections(String reason) {
        return Counter.builder("diem.gateway.rejections").description("Generate calls refused before dispatch, by reason")
                .tag("reason", reason).register(registry);
    }

    public void timeToFirstToken(String model, long nanos) {
        histogram("diem.gateway.time.to.first.token", "Time from the call to the first token relayed, by model", model, nanos);
    }

    public void latency(String model, long nanos) {
        histogram("diem.gateway.request.duration", "End-to-end Generate latency, by model", model, nanos);
    }

    public void overhead(String model, long nanos) {
        histogram("diem.gateway.overhead", "Gateway time not spent waiting on the node (auth, ledger, dispatch), by model",
                model, nanos);
    }

    private void histogram(String name, String help, String model, long nanos) {
        Timer.builder(name).description(help).tag("model", model).publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofMinutes(10))
                .register(registry).record(Duration.ofNanos(Math.max(0, nanos)));
    }

    /** A receipt booked, charging {@code chargedMicroUsd}. */
    public void receiptBooked(long chargedMicroUsd) {
        receiptsBooked.increment();
        charged.increment(chargedMicroUsd);
    }

    public void receiptRejected(String reason) {
        Counter.builder("diem.gateway.receipts.rejected").description("Receipts not booked or not paid, by reason")
                .tag("reason", reason).register(registry).increment();
    }

    public void receiptBatchRejected(String reason) {
        Counter.builder("diem.gateway.receipt.batches.rejected").description("Receipt batches refused, by reason")
                .tag("reason", reason.toLowerCase(Locale.ROOT)).register(registry).increment();
    }

    public Timer ledgerTimer(String operation) {
        return Timer.builder("diem.gateway.ledger.operation").description("Ledger operation (transaction) latency, by operation")
                .tag("operation", operation).publishPercentileHistogram().minimumExpectedValue(Duration.ofNanos(100_000))
                .maximumExpectedValue(Duration.ofSeconds(10)).register(registry);
    }

    public void gauge(String name, String help, Supplier<Number> value, String... tags) {
        Gauge.builder(name, value).description(help).tags(tags).register(registry);
    }
}
