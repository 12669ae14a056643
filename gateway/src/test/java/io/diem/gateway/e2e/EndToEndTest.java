package io.diem.gateway.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.rpc.ErrorInfo;
import io.diem.gateway.api.BalanceHeadersInterceptor;
import io.diem.gateway.ledger.LedgerViews;
import io.diem.gateway.store.Db;
import io.diem.v1.GenerateFinal;
import io.diem.v1.GenerateRequest;
import io.diem.v1.GenerateResponse;
import io.diem.v1.GetBalanceRequest;
import io.diem.v1.InferenceGrpc;
import io.diem.v1.ListModelsRequest;
import io.diem.v1.SamplingParams;
import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Gateway and agent processes over real gRPC on loopback: the paths a paying call takes. */
class EndToEndTest {

    @TempDir
    Path dir;

    private static GenerateRequest request(int maxTokens) {
        return GenerateRequest.newBuilder().setModel("tiny").setPrompt("The node agent")
                .setSampling(SamplingParams.newBuilder().setMaxTokens(maxTokens).setTemperature(0.8f).setSeed(3)).build();
    }

    private static GenerateFinal drain(Iterator<GenerateResponse> it, StringBuilder text) {
        GenerateFinal fin = null;
        while (it.hasNext()) {
            GenerateResponse r = it.next();
            if (r.hasDelta()) {
                text.append(r.getDelta().getText());
            } else {
                fin = r.getFinal();
            }
        }
        return fin;
    }

    @Test
    void aFullCallStreamsChargesAndBooksItsReceiptOnce() throws Exception {
        try (LocalCluster cluster = new LocalCluster(dir, io.diem.gateway.store.Db.h2Url(dir.resolve("ledger")),
                Duration.ofMinutes(5), 3)) {
            cluster.startAgent("a1");
            cluster.approveWhenRegistered(cluster.nodeIdOf("a1"));
            cluster.price(100_000, 400_000, 500);
            String[] app = cluster.stakedAccount(10_000_000); // $10/day
            AtomicReference<Metadata> headers = new AtomicReference<>();
            AtomicReference<Metadata> trailers = new AtomicReference<>();
            var stub = InferenceGrpc.newBlockingStub(cluster.as(app[1]))
                    .withInterceptors(MetadataUtils.newCaptureMetadataInterceptor(headers, trailers));
            assertThat(stub.listModels(ListModelsRequest.getDefaultInstance()).getModels(0).getName()).isEqualTo("tiny");

            StringBuilder text = new StringBuilder();
            GenerateFinal fin = drain(stub.withDeadlineAfter(60, TimeUnit.SECONDS).generate(request(12)), text);
            assertThat(fin).isNotNull();
            assertThat(headers.get().get(BalanceHeadersInterceptor.REMAINING)).isEqualTo("10000000");
            var u = fin.getUsage();
            assertThat(u.getCompletionTokens()).isBetween(1, 12);
            assertThat(u.getCostMicroUsd()).isEqualTo(new io.diem.gateway.ledger.Pricing("tiny", 100_000, 400_000, 500)
                    .chargeMicroUsd(u.getPromptTokens(), u.getCompletionTokens(), u.getGpuMicros()));
            assertThat(fin.getBalanceAfter().getRemainingMicroUsd()).isEqualTo(10_000_000 - u.getCostMicroUsd());

            // The signed receipt arrives and becomes the charge, once.
            await().atMost(Duration.ofSeconds(20)).until(() -> cluster.ledger.usage(app[0], 10, "").size() == 1);
            LedgerViews.UsageRecord booked = cluster.ledger.usage(app[0], 10, "").get(0);
            assertThat(booked.jobId()).isEqualTo(fin.getJobId());
            assertThat(booked.cost()).isEqualTo(u.getCostMicroUsd());
            assertThat(booked.nodeId()).isEqualTo(fin.getNodeId());
            var balance = stub.getBalance(GetBalanceRequest.getDefaultInstance());
            assertThat(balance.getSpentMicroUsd()).isEqualTo(u.getCostMicroUsd());
            assertThat(balance.getReservedMicroUsd()).isZero();
            String scrape = cluster.gateway.metrics().registry().scrape();
            assertThat(scrape).contains("diem_gateway_receipts_booked_total 1", "diem_gateway_reservations_open 0",
                    "diem_gateway_ledger_operation_seconds_count{operation=\"transaction\"}",
                    "diem_gateway_admissions_total{model=\"tiny\"} 1", "diem_gateway_nodes{state=\"healthy\"} 1",
                    "diem_gateway_requests_total{method=\"diem.v1.Inference/Generate\",status=\"OK\"} 1",
                    "diem_gateway_overhead_seconds_count{model=\"tiny\"} 1");
            assertValidPrometheusText(scrape);
            assertThat(cluster.ledger.invariantViolations()).isEmpty();
        }
    }

    @Test
    void creditExhaustedMidDayIsRefusedWithDetailsAndNothingIsDispatched() throws Exception {
        try (LocalCluster cluster = new LocalCluster(dir, io.diem.gateway.store.Db.h2Url(dir.resolve("ledger")),
                Duration.ofMinutes(5), 3)) {
            cluster.startAgent("a1");
            cluster.approveWhenRegistered(cluster.nodeIdOf("a1"));
            cluster.price(0, 5_000_000_000L, 0); // 5,000 µUSD per completion token: 8 tokens cost up to 40,000
            String[] app = cluster.stakedAccount(100_000); // $0.10 = 100,000 µUSD today
            var stub = InferenceGrpc.newBlockingStub(cluster.as(app[1])).withDeadlineAfter(60, TimeUnit.SECONDS);
            // Spend until refused: each call may cost 40,000 and is charged for what it generated (an early
            // EOS costs less), so 100,000 µUSD lasts two or more calls, never more than 20 tokens' worth.
            StatusRuntimeException refusal = null;
            int admitted = 0;
            int jobsBefore = 0;
            for (int i = 0; i < 25 && refusal == null; i++) {
                jobsBefore = jobCount(cluster);
                await().atMost(Duration.ofSeconds(20)).until(() -> cluster.ledger.balance(app[0]).reserved() == 0);
                try {
                    drain(stub.generate(request(8)), new StringBuilder());
                    admitted++;
                } catch (StatusRuntimeException e) {
                    refusal = e;
                }
            }
            assertThat(admitted).isGreaterThanOrEqualTo(2);
            assertThat(refusal).isNotNull().satisfies(e -> {
                        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                        assertThat(e.getStatus().getDescription()).contains("not enough credit");
                        com.google.rpc.Status details = StatusProto.fromThrowable(e);
                        ErrorInfo info;
                        try {
                            info = details.getDetails(0).unpack(ErrorInfo.class);
                        } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
                            throw new AssertionError(ex);
                        }
                        assertThat(info.getReason()).isEqualTo("INSUFFICIENT_CREDIT");
                        assertThat(Long.parseLong(info.getMetadataOrThrow("needed_micro_usd"))).isEqualTo(40_000);
                        assertThat(Long.parseLong(info.getMetadataOrThrow("remaining_micro_usd"))).isLessThan(40_000);
                    });
            assertThat(jobCount(cluster)).isEqualTo(jobsBefore);
        }
    }

    @Test
    void aCancelledCallCancelsTheNodesJobAndIsChargedForWhatRan() throws Exception {
        try (LocalCluster cluster = new LocalCluster(dir, io.diem.gateway.store.Db.h2Url(dir.resolve("ledger")),
                Duration.ofMinutes(5), 3)) {
            cluster.startAgent("a1");
            cluster.approveWhenRegistered(cluster.nodeIdOf("a1"));
            cluster.price(0, 1_000_000, 0);
            String[] app = cluster.stakedAccount(10_000_000);
            var stub = InferenceGrpc.newBlockingStub(cluster.as(app[1]));
            Context.CancellableContext context = Context.current().withCancellation();
            context.run(() -> {
                Iterator<GenerateResponse> it = stub.generate(request(200));
                it.next();
                context.cancel(null);
            });
            await().atMost(Duration.ofSeconds(20)).until(() -> cluster.ledger.usage(app[0], 10, "").size() == 1);
            LedgerViews.UsageRecord booked = cluster.ledger.usage(app[0], 10, "").get(0);
            assertThat(booked.finishReason()).isEqualTo("cancelled");
            assertThat(booked.completionTokens()).isLessThan(200);
        }
    }

    @Test
    void aNodeThatFailsBeforeTheFirstTokenIsReplacedByAnother() throws Exception {
        try (LocalCluster cluster = new LocalCluster(dir, io.diem.gateway.store.Db.h2Url(dir.resolve("ledger")),
                Duration.ofMinutes(5), 3)) {
            Process a1 = cluster.startAgent("a1");
            Process a2 = cluster.startAgent("a2");
            String n1 = cluster.nodeIdOf("a1");
            String n2 = cluster.nodeIdOf("a2");
            cluster.approveWhenRegistered(n1);
            cluster.approveWhenRegistered(n2);
            cluster.price(0, 1_000_000, 0);
            String[] app = cluster.stakedAccount(10_000_000);
            // The registry picks the lower node id among equally loaded nodes: kill that one.
            String first = n1.compareTo(n2) < 0 ? n1 : n2;
            String survivor = first.equals(n1) ? n2 : n1;
            (first.equals(n1) ? a1 : a2).destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            GenerateFinal fin = drain(InferenceGrpc.newBlockingStub(cluster.as(app[1])).withDeadlineAfter(60, TimeUnit.SECONDS)
                    .generate(request(6)), new StringBuilder());
            assertThat(fin.getNodeId()).isEqualTo(survivor);
            await().atMost(Duration.ofSeconds(20)).until(() -> cluster.ledger.usage(app[0], 10, "").size() == 1);
            assertThat(cluster.ledger.usage(app[0], 10, "").get(0).nodeId()).isEqualTo(survivor);
        }
    }

    @Test
    void receiptsAreBookedOnceAfterTheAgentIsKilledAndRestarted() throws Exception {
        try (LocalCluster cluster = new LocalCluster(dir, io.diem.gateway.store.Db.h2Url(dir.resolve("ledger")),
                Duration.ofMinutes(5), 3)) {
            Process agent = cluster.startAgent("a1");
            String node = cluster.nodeIdOf("a1");
            cluster.approveWhenRegistered(node);
            cluster.price(0, 1_000_000, 0);
            String[] app = cluster.stakedAccount(10_000_000);
            var stub = InferenceGrpc.newBlockingStub(cluster.as(app[1])).withDeadlineAfter(60, TimeUnit.SECONDS);
            List<String> jobs = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                jobs.add(drain(stub.generate(request(4)), new StringBuilder()).getJobId());
            }
            agent.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // receipts may still sit in its journal
            cluster.startAgent("a1");
            await().atMost(Duration.ofSeconds(30)).until(() -> cluster.ledger.usage(app[0], 100, "").size() >= 5);
            // usage_records is keyed by job id, so a resend cannot add a row; it must not be booked (counted) again either.
            await().atMost(Duration.ofSeconds(10)).until(() -> cluster.gateway.metrics().registry()
                    .find("diem.gateway.receipts.booked").counter().count() == 5.0);
            assertThat(cluster.ledger.usage(app[0], 100, "")).extracting(LedgerViews.UsageRecord::jobId)
                    .containsExactlyInAnyOrderElementsOf(jobs);
            assertThat(cluster.ledger.invariantViolations()).isEmpty();
        }
    }

    @Test
    void everyCompletedStreamIsChargedExactlyWhatItsFinalMessageShowed() throws Exception {
        try (LocalCluster cluster = new LocalCluster(dir, io.diem.gateway.store.Db.h2Url(dir.resolve("ledger")),
                Duration.ofMinutes(5), 3)) {
            cluster.startAgent("a1");
            cluster.approveWhenRegistered(cluster.nodeIdOf("a1"));
            cluster.price(100_000, 400_000, 500);
            String[] app = cluster.stakedAccount(100_000_000);
            var stub = InferenceGrpc.newBlockingStub(cluster.as(app[1]));
            java.util.Map<String, Long> shown = new java.util.concurrent.ConcurrentHashMap<>();
            var pool = java.util.concurrent.Executors.newFixedThreadPool(4);
            List<java.util.concurrent.Future<?>> calls = new ArrayList<>();
            for (int i = 0; i < 24; i++) {
                int tokens = 1 + i % 6;
                calls.add(pool.submit(() -> {
                    GenerateFinal fin = drain(stub.withDeadlineAfter(60, TimeUnit.SECONDS).generate(request(tokens)), new StringBuilder());
                    shown.put(fin.getJobId(), fin.getUsage().getCostMicroUsd());
                    return null;
                }));
            }
            for (var c : calls) {
                c.get();
            }
            pool.shutdown();
            await().atMost(Duration.ofSeconds(30)).until(() -> cluster.ledger.usage(app[0], 100, "").size() == 24);
            for (LedgerViews.UsageRecord booked : cluster.ledger.usage(app[0], 100, "")) {
                assertThat(booked.cost()).as("job %s", booked.jobId()).isEqualTo(shown.get(booked.jobId()));
            }
            assertThat(cluster.ledger.invariantViolations()).isEmpty();
        }
    }

    @Test
    void aLedgerThatLostTheNodesLastAcknowledgementResyncsInsteadOfLooping() throws Exception {
        try (LocalCluster cluster = new LocalCluster(dir, io.diem.gateway.store.Db.h2Url(dir.resolve("ledger")),
                Duration.ofMinutes(5), 3)) {
            cluster.startAgent("a1");
            String node = cluster.nodeIdOf("a1");
            cluster.approveWhenRegistered(node);
            cluster.price(0, 1_000_000, 0);
            String[] app = cluster.stakedAccount(10_000_000);
            var stub = InferenceGrpc.newBlockingStub(cluster.as(app[1])).withDeadlineAfter(60, TimeUnit.SECONDS);
            drain(stub.generate(request(2)), new StringBuilder());
            await().atMost(Duration.ofSeconds(20)).until(() -> cluster.ledger.usage(app[0], 10, "").size() == 1
                    && cluster.gateway.nodes().node(node).orElseThrow().ackedSequence() >= 1);
            Thread.sleep(500); // the agent records the acknowledgement and compacts the batch away
            // The ledger forgets it booked that batch (a restored backup, a lost commit): it now expects batch 1 again.
            cluster.ledger.tx().run(sql -> sql.update("UPDATE nodes SET acked_sequence = 0, acked_hash_hex = ? WHERE node_id = ?",
                    "0".repeat(64), node));
            cluster.gateway.nodes().invalidate();
            drain(stub.generate(request(3)), new StringBuilder());
            await().atMost(Duration.ofSeconds(20)).until(() -> cluster.ledger.usage(app[0], 10, "").size() == 2);
            assertThat(cluster.gateway.nodes().node(node).orElseThrow().flagReason()).isNull();
            assertThat(cluster.gateway.metrics().registry().find("diem.gateway.receipt.batches.rejected").tag("reason", "resync")
                    .counter().count()).isEqualTo(1.0);
        }
    }

    /** promtool check metrics, where promtool is installed (CI installs it). */
    private void assertValidPrometheusText(String text) throws Exception {
        Path promtool = Path.of("/usr/bin/promtool");
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isExecutable(promtool),
                "promtool is not installed; skipping the promtool check");
        Process p = new ProcessBuilder(promtool.toString(), "check", "metrics").redirectErrorStream(true).start();
        p.getOutputStream().write(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("promtool check metrics said:%n%s", out).isZero();
    }

    private static int jobCount(LocalCluster cluster) {
        return (int) (long) cluster.ledger.tx().run(sql -> sql.number("SELECT COUNT(*) FROM jobs"));
    }
}
