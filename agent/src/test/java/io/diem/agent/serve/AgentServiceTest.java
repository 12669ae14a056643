package io.diem.agent.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.diem.agent.engine.cpu.CpuEngine;
import io.diem.agent.model.Model;
import io.diem.agent.model.ModelLoader;
import io.diem.agent.model.TestModelMaker;
import io.diem.sign.TicketMinter;
import io.diem.v1.DescribeRequest;
import io.diem.v1.ExecuteRequest;
import io.diem.v1.ExecuteResponse;
import io.diem.v1.FinishReason;
import io.diem.v1.GenerateRequest;
import io.diem.v1.JobEvent;
import io.diem.v1.JobTicket;
import io.diem.v1.NodeAgentGrpc;
import io.diem.v1.SamplingParams;
import io.diem.v1.SignedTicket;
import io.diem.v1.TokenIds;
import io.diem.v1.UsageReceipt;
import io.grpc.Context;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent on loopback with the CPU engine and a tiny model; the test plays the gateway. */
class AgentServiceTest {

    @TempDir
    Path dir;
    TestGateway gateway;
    AgentNode node;
    ManagedChannel channel;
    NodeAgentGrpc.NodeAgentBlockingStub agent;

    @BeforeEach
    void start() throws Exception {
        gateway = new TestGateway(0);
        TestModelMaker.make(dir.resolve("tiny"), TestModelMaker.Options.of(TestModelMaker.Preset.TINY, 1));
        Model model = new ModelLoader(null).load(dir.resolve("tiny"));
        node = new AgentNode(Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create()),
                new AgentNode.Settings(dir.resolve("state"), List.of("127.0.0.1:" + gateway.port()), InsecureChannelCredentials.create(),
                        Map.of("tiny", model), List.of(new CpuEngine(1)), 2, "127.0.0.1", 0, "test"),
                Clock.systemUTC()).start();
        await().atMost(Duration.ofSeconds(10)).until(() -> node.sessions().get(0).registered());
        channel = Grpc.newChannelBuilder("127.0.0.1:" + node.port(), InsecureChannelCredentials.create()).build();
        agent = NodeAgentGrpc.newBlockingStub(channel);
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow();
        node.drain(Duration.ofSeconds(5));
        gateway.close();
    }

    private ExecuteRequest request(SignedTicket ticket, int maxTokens) {
        return ExecuteRequest.newBuilder().setTicket(ticket).setRequest(GenerateRequest.newBuilder().setModel("tiny")
                .setTokenIds(TokenIds.newBuilder().addAllIds(List.of(1, 2, 3)))
                .setSampling(SamplingParams.newBuilder().setMaxTokens(maxTokens).setSeed(5))).build();
    }

    private List<ExecuteResponse> run(ExecuteRequest request) {
        List<ExecuteResponse> out = new ArrayList<>();
        agent.withDeadlineAfter(30, TimeUnit.SECONDS).execute(request).forEachRemaining(out::add);
        return out;
    }

    @Test
    void aTicketedJobStreamsTokensAndItsReceiptReachesTheGatewayOnce() {
        SignedTicket ticket = gateway.ticket(node.nodeId(), "job-1", "tiny", 100, 50, 60_000_000);
        List<ExecuteResponse> responses = run(request(ticket, 8));
        ExecuteResponse last = responses.get(responses.size() - 1);
        assertThat(last.hasSummary()).isTrue();
        assertThat(last.getSummary().getCompletionTokens()).isEqualTo(8);
        assertThat(last.getSummary().getPromptTokens()).isEqualTo(3);
        assertThat(last.getSummary().getFinishReason()).isEqualTo(FinishReason.FINISH_REASON_LENGTH);
        assertThat(last.getSummary().getGpuMicros()).isPositive();
        int streamed = responses.stream().filter(ExecuteResponse::hasDelta).mapToInt(r -> r.getDelta().getTokenIdsCount()).sum();
        assertThat(streamed).isEqualTo(8);

        await().atMost(Duration.ofSeconds(10)).until(() -> gateway.receiptsFor("job-1") == 1);
        UsageReceipt receipt = gateway.accepted.stream().filter(r -> r.getJobId().equals("job-1")).findFirst().orElseThrow();
        assertThat(receipt.getCompletionTokens()).isEqualTo(8);
        assertThat(receipt.getGpuMicros()).isEqualTo(last.getSummary().getGpuMicros());
        assertThat(receipt.getAccountRef()).isEqualTo("acct-test");
        await().atMost(Duration.ofSeconds(10)).until(() -> node.journal().acknowledgedSequence() >= 1);
        assertThat(gateway.problems).isEmpty();
    }

    @Test
    void forgedReplayedExpiredAndForeignTicketsAreRefused() {
        SignedTicket good = gateway.ticket(node.nodeId(), "job-2", "tiny", 100, 5, 60_000_000);
        run(request(good, 2));
        assertStatus(() -> run(request(good, 2)), Status.Code.ALREADY_EXISTS, "already used");

        SignedTicket forged = good.toBuilder().setMac(com.google.protobuf.ByteString.copyFrom(new byte[32])).build();
        assertStatus(() -> run(request(forged, 2)), Status.Code.UNAUTHENTICATED, "authenticator");

        long now = io.diem.sign.TicketVerifier.micros(java.time.Instant.now());
        SignedTicket expired = TicketMinter.mint(gateway.keyFor(node.nodeId()), JobTicket.newBuilder().setJobId("job-3")
                .setNodeId(node.nodeId()).setModel("tiny").setMaxPromptTokens(100).setMaxCompletionTokens(5)
                .setGpuMicrosLimit(1_000_000).setIssuedAtUnixMicros(now - 120_000_000L).setExpiresAtUnixMicros(now - 1).build());
        assertStatus(() -> run(request(expired, 2)), Status.Code.FAILED_PRECONDITION, "expired");

        SignedTicket foreign = gateway.ticket("node-someoneelse", "job-4", "tiny", 100, 5, 1_000_000);
        assertStatus(() -> run(request(foreign, 2)), Status.Code.UNAUTHENTICATED, "authenticator");
        SignedTicket forOther = TicketMinter.mint(gateway.keyFor(node.nodeId()), JobTicket.newBuilder().setJobId("job-5")
                .setNodeId("node-someoneelse").setModel("tiny").setMaxPromptTokens(100).setMaxCompletionTokens(5)
                .setGpuMicrosLimit(1_000_000).setIssuedAtUnixMicros(now).setExpiresAtUnixMicros(now + 60_000_000L).build());
        assertStatus(() -> run(request(forOther, 2)), Status.Code.PERMISSION_DENIED, "is for node node-someoneelse");

        SignedTicket otherModel = gateway.ticket(node.nodeId(), "job-6", "llama-70b", 100, 5, 1_000_000);
        assertStatus(() -> run(request(otherModel, 2)), Status.Code.NOT_FOUND, "does not serve model 'llama-70b'");

        SignedTicket smallPrompt = gateway.ticket(node.nodeId(), "job-7", "tiny", 2, 5, 1_000_000);
        assertStatus(() -> run(request(smallPrompt, 2)), Status.Code.PERMISSION_DENIED, "prompt has 3 tokens; the ticket allows 2");

        String metrics = node.metrics().scrape();
        assertThat(metrics).contains("diem_agent_tickets_rejected_total{reason=\"replayed\"} 1")
                .contains("diem_agent_tickets_rejected_total{reason=\"bad_mac\"} 2")
                .contains("diem_agent_tickets_rejected_total{reason=\"expired\"} 1")
                .contains("diem_agent_tickets_rejected_total{reason=\"wrong_node\"} 1");
    }

    @Test
    void theTicketsLimitsBindWhateverTheRequestAsks() {
        SignedTicket ticket = gateway.ticket(node.nodeId(), "job-8", "tiny", 100, 3, 60_000_000);
        List<ExecuteResponse> responses = run(request(ticket, 40));
        var summary = responses.get(responses.size() - 1).getSummary();
        assertThat(summary.getFinishReason()).isEqualTo(FinishReason.FINISH_REASON_TOKEN_LIMIT);
        assertThat(summary.getCompletionTokens()).isEqualTo(3);

        SignedTicket tight = gateway.ticket(node.nodeId(), "job-9", "tiny", 100, 100, 1);
        var timed = run(request(tight, 40));
        assertThat(timed.get(timed.size() - 1).getSummary().getFinishReason()).isEqualTo(FinishReason.FINISH_REASON_GPU_TIME_LIMIT);
    }

    @Test
    void aCallerThatGoesAwayCancelsTheJobWhichStillLeavesAReceipt() throws Exception {
        SignedTicket ticket = gateway.ticket(node.nodeId(), "job-10", "tiny", 100, 200, 600_000_000);
        Context.CancellableContext context = Context.current().withCancellation();
        context.run(() -> {
            Iterator<ExecuteResponse> it = agent.execute(request(ticket, 200));
            it.next(); // first delta arrived: the job is running
            context.cancel(null);
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> gateway.receiptsFor("job-10") == 1);
        UsageReceipt receipt = gateway.accepted.stream().filter(r -> r.getJobId().equals("job-10")).findFirst().orElseThrow();
        assertThat(receipt.getFinishReason()).isEqualTo(FinishReason.FINISH_REASON_CANCELLED);
        assertThat(receipt.getCompletionTokens()).isBetween(1, 199);
    }

    @Test
    void drainLetsTheRunningJobFinishAndRefusesNewOnes() throws Exception {
        SignedTicket ticket = gateway.ticket(node.nodeId(), "job-12", "tiny", 100, 60, 600_000_000);
        Iterator<ExecuteResponse> it = agent.withDeadlineAfter(30, TimeUnit.SECONDS).execute(request(ticket, 60));
        it.next(); // running
        Thread drainer = new Thread(() -> {
            try {
                node.drain(Duration.ofSeconds(20));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        drainer.start();
        ExecuteResponse last = null;
        while (it.hasNext()) {
            last = it.next();
        }
        assertThat(last.getSummary().getFinishReason()).isEqualTo(FinishReason.FINISH_REASON_LENGTH);
        assertThat(last.getSummary().getCompletionTokens()).isEqualTo(60);
        drainer.join(30_000);
        assertThat(gateway.receiptsFor("job-12")).isEqualTo(1); // flushed to the gateway on the way out
        // Drained: the server is stopped, so a new job cannot even reach the scheduler (which would refuse it too,
        // see JobSchedulerTest): the caller gets UNAVAILABLE, which gateways treat as "try another node".
        assertThatThrownBy(() -> run(request(gateway.ticket(node.nodeId(), "job-13", "tiny", 100, 5, 1_000_000), 2)))
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
    }

    @Test
    void aNodeWithNoListeningPortServesJobsOverTheSessionItOpened() throws Exception {
        TestModelMaker.make(dir.resolve("tiny2"), TestModelMaker.Options.of(TestModelMaker.Preset.TINY, 1));
        Model model = new ModelLoader(null).load(dir.resolve("tiny2"));
        AgentNode portless = new AgentNode(null, new AgentNode.Settings(dir.resolve("portless"), List.of("127.0.0.1:" + gateway.port()),
                InsecureChannelCredentials.create(), Map.of("tiny", model), List.of(new CpuEngine(1)), 2, "127.0.0.1", 0, "test"),
                Clock.systemUTC()).start();
        try {
            assertThat(portless.port()).isEqualTo(-1);
            await().atMost(Duration.ofSeconds(10)).until(() -> gateway.connected(portless.nodeId()));
            List<JobEvent> events = gateway.run(portless.nodeId(), request(gateway.ticket(portless.nodeId(), "job-s1", "tiny", 100, 6,
                    60_000_000), 6), 30);
            JobEvent last = events.get(events.size() - 1);
            assertThat(last.hasSummary()).as("%s", last).isTrue();
            assertThat(last.getSummary().getCompletionTokens()).isEqualTo(6);
            assertThat(events.stream().filter(JobEvent::hasDelta).mapToInt(e -> e.getDelta().getTokenIdsCount()).sum()).isEqualTo(6);
            await().atMost(Duration.ofSeconds(10)).until(() -> gateway.receiptsFor("job-s1") == 1);

            // A refused ticket comes back as the job's error, with the status the local API would answer.
            List<JobEvent> refused = gateway.run(portless.nodeId(), request(gateway.ticket("node-other", "job-s2", "tiny", 100, 6,
                    60_000_000), 6), 30);
            assertThat(refused).singleElement().satisfies(e -> {
                assertThat(e.getError().getCode()).isEqualTo("UNAUTHENTICATED");
                assertThat(e.getError().getDescription()).contains("ticket refused");
            });
            assertThat(gateway.problems).isEmpty();
        } finally {
            portless.drain(Duration.ofSeconds(5));
        }
    }

    @Test
    void aJobTheGatewayCancelsStopsAndStillLeavesItsReceipt() throws Exception {
        await().atMost(Duration.ofSeconds(10)).until(() -> gateway.connected(node.nodeId()));
        var events = gateway.start(node.nodeId(), request(gateway.ticket(node.nodeId(), "job-c1", "tiny", 100, 200, 600_000_000), 200));
        JobEvent first = events.poll(30, TimeUnit.SECONDS);
        assertThat(first).isNotNull();
        assertThat(first.hasDelta()).as("%s", first).isTrue(); // running
        gateway.cancel(node.nodeId(), "job-c1");
        await().atMost(Duration.ofSeconds(20)).until(() -> gateway.receiptsFor("job-c1") == 1);
        UsageReceipt receipt = gateway.accepted.stream().filter(r -> r.getJobId().equals("job-c1")).findFirst().orElseThrow();
        assertThat(receipt.getFinishReason()).isEqualTo(FinishReason.FINISH_REASON_CANCELLED);
        assertThat(receipt.getCompletionTokens()).isBetween(1, 199);
    }

    @Test
    void whileTheGatewayIsAwayJobsRunTheLinkBacksOffAndReceiptsShipWhenItReturns() throws Exception {
        gateway.goAway();
        SignedTicket ticket = gateway.ticket(node.nodeId(), "job-14", "tiny", 100, 8, 60_000_000);
        List<ExecuteResponse> responses = run(request(ticket, 8));
        assertThat(responses.get(responses.size() - 1).getSummary().getCompletionTokens()).isEqualTo(8); // the job ran

        // The receipt waits in the journal, unacknowledged, while the session is reopened with backoff (1 s,
        // doubling): in 4 s it tries at most 4 times, where retrying every 250 ms would try 16 times.
        await().atMost(Duration.ofSeconds(10)).until(() -> gateway.refusedWhileAway.get() >= 1);
        int before = gateway.refusedWhileAway.get();
        long start = System.nanoTime();
        Thread.sleep(4_000); // the window the attempts are counted in
        double seconds = (System.nanoTime() - start) / 1e9;
        assertThat(gateway.refusedWhileAway.get() - before).isLessThanOrEqualTo((int) Math.ceil(seconds));
        assertThat(gateway.receiptsFor("job-14")).isZero();
        assertThat(node.journal().pendingReceipts() + node.journal().unacknowledgedBatches()).isPositive();

        gateway.available = true;
        await().atMost(Duration.ofSeconds(40)).until(() -> gateway.receiptsFor("job-14") == 1);
        await().atMost(Duration.ofSeconds(10)).until(() -> node.journal().unacknowledgedBatches() == 0);
        assertThat(gateway.problems).isEmpty();
    }

    @Test
    void describeAndMetricsEndpoint() throws Exception {
        var d = agent.describe(DescribeRequest.getDefaultInstance());
        assertThat(d.getNodeId()).isEqualTo(node.nodeId());
        assertThat(d.getEngine()).isEqualTo("cpu");
        assertThat(d.getModels(0).getName()).isEqualTo("tiny");
        assertThat(d.getCapacity()).isEqualTo(2 + 32); // queue + the batch
        assertThat(d.getKvBlockTokens()).isEqualTo(16);
        assertThat(d.getKvBlocksTotal()).isPositive();
        assertThat(d.getKvBlocksUsed()).isZero();
        // Counters exist at 0 before the first job, so rate() and alerts see them from the start.
        assertThat(node.metrics().scrape()).contains("diem_agent_tokens_total{kind=\"prompt\",model=\"tiny\"} 0")
                .contains("diem_agent_tokens_total{kind=\"completion\",model=\"tiny\"} 0")
                .contains("diem_agent_device_busy_seconds_total{device=\"cpu\"} 0");

        run(request(gateway.ticket(node.nodeId(), "job-11", "tiny", 100, 4, 60_000_000), 4));
        System.gc(); // a weakly held meter function would be collected here and the counter would freeze
        String afterJob = node.metrics().scrape();
        assertThat(busySeconds(afterJob)).as(afterJob).isPositive();
        // Scrapes only read the busy ratio: two in a row (two Prometheus servers) see the same value.
        assertThat(busyRatioLine(node.metrics().scrape())).isEqualTo(busyRatioLine(node.metrics().scrape()));
        HttpClient http = HttpClient.newHttpClient();
        String base = "http://127.0.0.1:" + node.metricsPort();
        HttpResponse<String> metrics = http.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body()).contains("diem_agent_jobs_total{model=\"tiny\",outcome=\"length\"} 1")
                .contains("diem_agent_tokens_total{kind=\"completion\",model=\"tiny\"} 4")
                .contains("diem_agent_engine_cpu_seconds_total{device=\"cpu\",model=\"tiny\"}")
                .contains("diem_agent_time_to_first_token_seconds_bucket")
                .contains("diem_agent_job_duration_seconds_count{model=\"tiny\"} 1")
                .contains("diem_agent_queue_depth{device=\"cpu\"}")
                .contains("diem_agent_engine_info{engine=\"cpu\"} 1")
                .contains("jvm_memory_used_bytes");
        assertThat(http.send(HttpRequest.newBuilder(URI.create(base + "/healthz")).build(), HttpResponse.BodyHandlers.ofString())
                .statusCode()).isEqualTo(200);
        assertThat(http.send(HttpRequest.newBuilder(URI.create(base + "/readyz")).build(), HttpResponse.BodyHandlers.ofString())
                .statusCode()).isEqualTo(200);
        PromtoolCheck.assertValid(metrics.body(), dir);
    }

    private static double busySeconds(String scrape) {
        return scrape.lines().filter(l -> l.startsWith("diem_agent_device_busy_seconds_total{device=\"cpu\"}"))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).findFirst().orElse(-1);
    }

    private static String busyRatioLine(String scrape) {
        return scrape.lines().filter(l -> l.startsWith("diem_agent_device_busy_ratio{")).findFirst().orElse("missing");
    }

    static void assertStatus(Runnable call, Status.Code code, String message) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(code);
            assertThat(e.getStatus().getDescription()).contains(message);
        });
    }
}
