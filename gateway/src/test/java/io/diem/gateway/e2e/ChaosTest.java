package io.diem.gateway.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.diem.gateway.nodes.Node;
import io.diem.v1.GenerateRequest;
import io.diem.v1.GenerateResponse;
import io.diem.v1.InferenceGrpc;
import io.diem.v1.NodeState;
import io.diem.v1.SamplingParams;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The short chaos run: two agent processes under streaming load with client cancellations, killed
 * with SIGKILL at random and restarted, {@value #KILLS} times. Afterwards the books must be exact:
 * every completed stream charged what its final message showed, no job booked twice, the ledger's
 * invariants hold, and every node is healthy again without an operator.
 */
class ChaosTest {

    static final int KILLS = 8;
    static final int CLIENTS = 3;

    @TempDir
    java.nio.file.Path dir;

    @Test
    void killingAgentsUnderLoadLosesNoMoneyAndNeedsNoOperator() throws Exception {
        try (LocalCluster cluster = new LocalCluster(dir, io.diem.gateway.store.Db.h2Url(dir.resolve("ledger")),
                Duration.ofMinutes(5), 3)) {
            Map<String, Process> agents = new ConcurrentHashMap<>();
            for (String name : List.of("a1", "a2")) {
                agents.put(name, cluster.startAgent(name));
                cluster.approveWhenRegistered(cluster.nodeIdOf(name));
            }
            cluster.price(100_000, 400_000, 500);
            String[] app = cluster.stakedAccount(1_000_000_000);
            var stub = InferenceGrpc.newBlockingStub(cluster.as(app[1]));
            Map<String, Long> shown = new ConcurrentHashMap<>();
            Map<String, Integer> failures = new ConcurrentHashMap<>();
            AtomicBoolean stop = new AtomicBoolean();
            ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
            List<Future<?>> loops = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                Random random = new Random(c);
                loops.add(clients.submit(() -> {
                    while (!stop.get()) {
                        boolean cancel = random.nextInt(5) == 0;
                        GenerateRequest request = GenerateRequest.newBuilder().setModel("tiny").setPrompt("chaos " + random.nextInt())
                                .setSampling(SamplingParams.newBuilder().setMaxTokens(4 + random.nextInt(20)).setTemperature(0.8f)
                                        .setSeed(random.nextInt())).build();
                        Context.CancellableContext context = Context.current().withCancellation();
                        try {
                            context.run(() -> {
                                Iterator<GenerateResponse> it = stub.withDeadlineAfter(30, TimeUnit.SECONDS).generate(request);
                                while (it.hasNext()) {
                                    GenerateResponse r = it.next();
                                    if (cancel && r.hasDelta()) {
                                        context.cancel(null); // the caller goes away mid-stream
                                        return;
                                    }
                                    if (r.hasFinal()) {
                                        shown.put(r.getFinal().getJobId(), r.getFinal().getUsage().getCostMicroUsd());
                                    }
                                }
                            });
                        } catch (StatusRuntimeException e) {
                            failures.merge(e.getStatus().getCode() + (e.getStatus().getCode() == Status.Code.CANCELLED ? "" : ": "
                                    + e.getStatus().getDescription()), 1, Integer::sum);
                            if (e.getStatus().getCode() == Status.Code.UNAVAILABLE) {
                                sleepQuietly(50); // both nodes down: back off the way a real client would
                            }
                        } finally {
                            context.cancel(null);
                        }
                    }
                    return null;
                }));
            }
            Random chaos = new Random(20261202);
            for (int k = 0; k < KILLS; k++) {
                Thread.sleep(800 + chaos.nextInt(1_200));
                String victim = chaos.nextBoolean() ? "a1" : "a2";
                agents.get(victim).destroyForcibly().waitFor(10, TimeUnit.SECONDS); // kill -9
                Thread.sleep(chaos.nextInt(1_000));
                agents.put(victim, cluster.startAgent(victim)); // same state dir: same node, journal replayed
            }
            Thread.sleep(2_000);
            stop.set(true);
            for (Future<?> loop : loops) {
                loop.get(60, TimeUnit.SECONDS);
            }
            clients.shutdown();

            // Every completed stream's receipt is booked, once, at exactly the cost its final message showed.
            await().atMost(Duration.ofSeconds(60)).until(() -> bookedCosts(cluster, app[0]).keySet().containsAll(shown.keySet()));
            Map<String, Long> booked = bookedCosts(cluster, app[0]);
            for (Map.Entry<String, Long> s : shown.entrySet()) {
                assertThat(booked.get(s.getKey())).as("job %s", s.getKey()).isEqualTo(s.getValue());
            }
            assertThat(cluster.ledger.invariantViolations()).isEmpty();
            // Both nodes are healthy again, without anyone approving them.
            await().atMost(Duration.ofSeconds(30)).until(() -> cluster.gateway.picker().eligible().size() == 2);
            for (Node n : cluster.gateway.nodes().nodes()) {
                assertThat(n.flagReason()).as("node %s", n.nodeId()).isNull();
                assertThat(cluster.gateway.nodes().state(n)).isEqualTo(NodeState.NODE_STATE_HEALTHY);
            }
            int failed = failures.values().stream().mapToInt(Integer::intValue).sum();
            System.out.printf("chaos: %d kills; %d completed streams booked at their shown cost; %d calls ended otherwise: %s%n",
                    KILLS, shown.size(), failed, failures);
            assertThat(shown).hasSizeGreaterThan(20);
        }
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Job id to booked cost for every usage record of the account (usage_records is keyed by job id: one row per job). */
    private static Map<String, Long> bookedCosts(LocalCluster cluster, String accountId) throws Exception {
        Map<String, Long> costs = new TreeMap<>();
        cluster.ledger.tx().run(sql -> sql.list("SELECT job_id, cost FROM usage_records WHERE account_id = ?",
                rs -> Map.entry(rs.getString(1), rs.getLong(2)), accountId)).forEach(e -> costs.put(e.getKey(), e.getValue()));
        return costs;
    }
}
