package io.diem.gateway.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.diem.v1.GenerateRequest;
import io.diem.v1.InferenceGrpc;
import io.diem.v1.SamplingParams;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's side: every metric the Grafana dashboard ({@code deploy/grafana/diem-compute.json})
 * and the alert rules ({@code deploy/prometheus/alerts.yml}) name is served by a live gateway and agent
 * (the agent's GPU gauges through a stand-in {@code nvidia-smi} on its PATH, as a CPU-only machine has
 * none); the rules pass {@code promtool check rules} and their unit tests, and every dashboard query
 * parses.
 */
class ObservabilityTest {

    private static final Path DEPLOY = Path.of("..", "deploy").toAbsolutePath().normalize();
    private static final Pattern METRIC = Pattern.compile("\\bdiem_[a-z0-9_]+");

    @TempDir
    Path dir;

    /** Every PromQL expression of the dashboard's panels. */
    private static List<String> dashboardQueries() throws Exception {
        JsonObject dashboard = JsonParser.parseString(Files.readString(DEPLOY.resolve("grafana/diem-compute.json"))).getAsJsonObject();
        List<String> out = new ArrayList<>();
        collect(dashboard, out);
        return out;
    }

    private static void collect(JsonElement e, List<String> out) {
        if (e.isJsonObject()) {
            for (Map.Entry<String, JsonElement> f : e.getAsJsonObject().entrySet()) {
                if (f.getKey().equals("expr")) {
                    out.add(f.getValue().getAsString());
                } else {
                    collect(f.getValue(), out);
                }
            }
        } else if (e.isJsonArray()) {
            e.getAsJsonArray().forEach(x -> collect(x, out));
        }
    }

    private static Set<String> names(String text) {
        Set<String> out = new TreeSet<>();
        Matcher m = METRIC.matcher(text);
        while (m.find()) {
            out.add(m.group());
        }
        return out;
    }

    /** Metric names (series names) of a Prometheus text scrape. */
    private static Set<String> served(String scrape) {
        Set<String> out = new TreeSet<>();
        for (String line : scrape.split("\n")) {
            if (!line.isEmpty() && !line.startsWith("#")) {
                out.add(line.split("[{ ]", 2)[0]);
            }
        }
        return out;
    }

    @Test
    void everyMetricTheDashboardAndAlertsNameIsServedByALiveSystem() throws Exception {
        List<String> queries = dashboardQueries();
        assertThat(queries).hasSizeGreaterThan(20);
        Set<String> wanted = new TreeSet<>();
        queries.forEach(q -> wanted.addAll(names(q)));
        wanted.addAll(names(Files.readString(DEPLOY.resolve("prometheus/alerts.yml"))));

        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path smi = bin.resolve("nvidia-smi");
        Files.writeString(smi, "#!/bin/sh\necho '0, GPU-00000000-1111-2222-3333-444444444444, NVIDIA H200, 42, 300.5, 55, 1024'\n");
        Files.setPosixFilePermissions(smi, PosixFilePermissions.fromString("rwx------"));
        try (LocalCluster c = new LocalCluster(dir, io.diem.gateway.store.Db.h2Url(dir.resolve("ledger")), Duration.ofMinutes(5), 3)) {
            c.startAgent("a1", Map.of("PATH", bin + ":" + System.getenv("PATH")));
            c.approveWhenRegistered(c.nodeIdOf("a1"));
            c.price(100_000, 400_000, 500);
            String[] app = c.stakedAccount(10_000_000);
            InferenceGrpc.newBlockingStub(c.as(app[1])).withDeadlineAfter(60, TimeUnit.SECONDS).generate(GenerateRequest.newBuilder()
                    .setModel("tiny").setPrompt("The node agent").setSampling(SamplingParams.newBuilder().setMaxTokens(6)).build())
                    .forEachRemaining(r -> {});
            HttpClient http = HttpClient.newHttpClient();
            http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + c.gateway.httpPort() + "/v1/completions"))
                    .header("Authorization", "Bearer " + app[1])
                    .POST(HttpRequest.BodyPublishers.ofString("{\"model\": \"tiny\", \"prompt\": \"Hi\", \"max_tokens\": 4}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            await().atMost(Duration.ofSeconds(20)).until(() -> c.ledger.usage(app[0], 10, "").size() == 2);
            String agentMetrics = "http://127.0.0.1:" + c.agentMetricsPorts.get("a1") + "/metrics";
            await().atMost(Duration.ofSeconds(20)).until(() -> http.send(HttpRequest.newBuilder(URI.create(agentMetrics)).build(),
                    HttpResponse.BodyHandlers.ofString()).body().contains("diem_agent_gpu_utilization_ratio"));
            Set<String> live = new TreeSet<>(served(c.gateway.metrics().registry().scrape()));
            live.addAll(served(http.send(HttpRequest.newBuilder(URI.create(agentMetrics)).build(),
                    HttpResponse.BodyHandlers.ofString()).body()));
            Set<String> missing = new TreeSet<>(wanted);
            missing.removeAll(live);
            assertThat(missing).as("metrics named in deploy/ that a live gateway and agent do not serve").isEmpty();
            assertThat(wanted).contains("diem_agent_gpu_power_watts", "diem_agent_inter_token_latency_seconds_bucket",
                    "diem_gateway_charged_micro_usd_total");
        }
    }

    @Test
    void alertRulesAndDashboardQueriesPassPromtool() throws Exception {
        Assumptions.assumeTrue(new ProcessBuilder("sh", "-c", "command -v promtool").start().waitFor() == 0,
                "promtool is not installed (Debian package prometheus; .ci/run installs it)");
        assertThat(promtool("check", "rules", DEPLOY.resolve("prometheus/alerts.yml").toString())).contains("SUCCESS: 7 rules found");
        assertThat(promtool("test", "rules", DEPLOY.resolve("prometheus/alerts.test.yml").toString())).contains("SUCCESS");
        // Each dashboard query as a recording rule: promtool parses every expression.
        StringBuilder rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
        int i = 0;
        for (String q : dashboardQueries()) {
            rules.append("      - record: dashboard:query").append(i++).append("\n        expr: '")
                    .append(q.replace("$__rate_interval", "5m").replace("'", "''")).append("'\n");
        }
        Path file = dir.resolve("dashboard-rules.yml");
        Files.writeString(file, rules);
        assertThat(promtool("check", "rules", file.toString())).contains("SUCCESS: " + i + " rules found");
    }

    private static String promtool(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("promtool"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(out).isZero();
        return out;
    }
}
