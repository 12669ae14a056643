package io.diem.agent.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.diem.agent.model.TestModelMaker;
import io.diem.v1.DescribeRequest;
import io.diem.v1.ExecuteRequest;
import io.diem.v1.ExecuteResponse;
import io.diem.v1.GenerateRequest;
import io.diem.v1.NodeAgentGrpc;
import io.diem.v1.SamplingParams;
import io.diem.v1.TokenIds;
import io.diem.v1.UsageReceipt;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nothing lost, nothing twice: a real agent process is killed with SIGKILL at random points while
 * jobs finish and batches ship, then restarted; every job whose summary the caller received must
 * have its receipt booked by the gateway exactly once, and no job may ever be booked twice.
 */
class KillNineTest {

    @TempDir
    Path dir;

    @Test
    void everyFinishedJobsReceiptArrivesExactlyOnceAcrossKills() throws Exception {
        TestModelMaker.make(dir.resolve("tiny"), TestModelMaker.Options.of(TestModelMaker.Preset.TINY, 3));
        Random random = new Random(20261126);
        Set<String> finished = ConcurrentHashMap.newKeySet();
        AtomicInteger jobCounter = new AtomicInteger();
        String nodeId = null;
        try (TestGateway gateway = new TestGateway(0)) {
            for (int round = 0; round < 5; round++) {
                int port = freePort();
                Process agent = start(port, gateway.port());
                ManagedChannel channel = Grpc.newChannelBuilder("127.0.0.1:" + port, InsecureChannelCredentials.create()).build();
                try {
                    NodeAgentGrpc.NodeAgentBlockingStub stub = NodeAgentGrpc.newBlockingStub(channel);
                    nodeId = awaitUp(stub);
                    String id = nodeId;
                    await().atMost(Duration.ofSeconds(20)).until(() -> gateway.nodes.containsKey(id));
                    ExecutorService clients = Executors.newFixedThreadPool(3);
                    for (int c = 0; c < 3; c++) {
                        clients.submit(() -> {
                            while (!Thread.currentThread().isInterrupted()) {
                                String job = "job-" + jobCounter.incrementAndGet();
                                try {
                                    ExecuteRequest request = ExecuteRequest.newBuilder()
                                            .setTicket(gateway.ticket(id, job, "tiny", 100, 100, 60_000_000))
                                            .setRequest(GenerateRequest.newBuilder().setTokenIds(TokenIds.newBuilder().addIds(1).addIds(2))
                                                    .setSampling(SamplingParams.newBuilder().setMaxTokens(3 + job.hashCode() % 5 + 5)))
                                            .build();
                                    var it = stub.withDeadlineAfter(10, TimeUnit.SECONDS).execute(request);
                                    while (it.hasNext()) {
                                        ExecuteResponse r = it.next();
                                        if (r.hasSummary()) {
                                            finished.add(job);
                                        }
                                    }
                                } catch (StatusRuntimeException e) {
                                    return; // the agent died under us
                                }
                            }
                        });
                    }
                    Thread.sleep(300 + random.nextInt(900));
                    agent.destroyForcibly(); // SIGKILL: no shutdown hook, no drain
                    agent.waitFor(10, TimeUnit.SECONDS);
                    clients.shutdownNow();
                    clients.awaitTermination(10, TimeUnit.SECONDS);
                } finally {
                    channel.shutdownNow();
                    agent.destroyForcibly();
                }
            }
            // A last, clean start ships whatever the kills left in the journal.
            int port = freePort();
            Process agent = start(port, gateway.port());
            try {
                assertThat(finished).hasSizeGreaterThan(10);
                await().atMost(Duration.ofSeconds(60)).until(() -> finished.stream().allMatch(j -> gateway.receiptsFor(j) >= 1));
            } finally {
                agent.destroy();
                agent.waitFor(30, TimeUnit.SECONDS);
            }
            Map<String, Long> counts;
            synchronized (gateway.accepted) {
                counts = gateway.accepted.stream().collect(Collectors.groupingBy(UsageReceipt::getJobId, Collectors.counting()));
            }
            assertThat(counts.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).toList())
                    .as("jobs booked more than once").isEmpty();
            assertThat(finished).allSatisfy(j -> assertThat(counts).containsEntry(j, 1L));
            assertThat(gateway.problems).as("chain problems seen by the gateway").isEmpty();
            System.out.printf("kill -9 x5: %d jobs started, %d finished, %d receipts booked, none twice%n",
                    jobCounter.get(), finished.size(), counts.size());
        }
    }

    private Process start(int port, int gatewayPort) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), "io.diem.agent.cli.AgentMain", "serve",
                "--model", "tiny=" + dir.resolve("tiny"), "--state-dir", dir.resolve("state").toString(),
                "--gateway", "127.0.0.1:" + gatewayPort, "--gateway-insecure", "--port", String.valueOf(port),
                "--metrics-port", String.valueOf(freePort()), "--engine", "cpu", "--threads", "1", "--queue", "8"));
        return new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve("agent-" + port + ".log").toFile()).start();
    }

    private static String awaitUp(NodeAgentGrpc.NodeAgentBlockingStub stub) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                return stub.withDeadlineAfter(1, TimeUnit.SECONDS).describe(DescribeRequest.getDefaultInstance()).getNodeId();
            } catch (StatusRuntimeException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    throw new IllegalStateException(ie);
                }
            }
        }
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
