package io.diem.agent.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.diem.agent.engine.GenerationRequest;
import io.diem.agent.engine.GenerationResult;
import io.diem.agent.engine.SamplingParams;
import io.diem.agent.engine.TokenSink;
import io.diem.agent.engine.cpu.CpuEngine;
import io.diem.agent.model.Model;
import io.diem.agent.model.ModelLoader;
import io.diem.agent.model.TestModelMaker;
import io.diem.v1.JobTicket;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Step scheduling and metering on one device: conservation, busy ≤ wall, bounded queue. */
class JobSchedulerTest {

    @TempDir
    Path dir;

    private Job job(Model model, String id, int maxTokens, AtomicLong metered, CountDownLatch done) {
        return job(model, id, maxTokens, metered, done, TokenSink.DISCARD);
    }

    private Job job(Model model, String id, int maxTokens, AtomicLong metered, CountDownLatch done, TokenSink sink) {
        JobTicket ticket = JobTicket.newBuilder().setJobId(id).setModel("tiny").build();
        return new Job(ticket, model, new GenerationRequest(List.of(1, 2, 3), new SamplingParams(0.9f, 1, 0, 7, maxTokens, List.of()),
                0, 0, Set.of()), sink, (GenerationResult r, Throwable t) -> {
                    if (r != null) {
                        metered.addAndGet(r.computeNanos());
                    }
                    done.countDown();
                }, 0);
    }

    @Test
    void theJobsMeteredComputeSumsToTheDevicesBusyTimeWhichNeverExceedsWallTime() throws Exception {
        TestModelMaker.make(dir.resolve("tiny"), TestModelMaker.Options.of(TestModelMaker.Preset.TINY, 1));
        Model model = new ModelLoader(null).load(dir.resolve("tiny"));
        CpuEngine engine = new CpuEngine(2);
        JobScheduler scheduler = new JobScheduler("cpu", engine, 16);
        AtomicLong metered = new AtomicLong();
        CountDownLatch done = new CountDownLatch(8);
        long start = System.nanoTime();
        for (int i = 0; i < 8; i++) {
            scheduler.submit(job(model, "j" + i, 20 + i, metered, done));
        }
        assertThat(done.await(60, TimeUnit.SECONDS)).isTrue();
        long wall = System.nanoTime() - start;
        assertThat(metered.get()).isPositive().isEqualTo(scheduler.busyNanos());
        assertThat(scheduler.busyNanos()).isLessThanOrEqualTo(wall * engine.threads());
        scheduler.drain(Duration.ofSeconds(5));
        engine.close();
    }

    @Test
    void jobsSpreadOverDevicesByLoadAndRunOutOfRoomOnlyWhenEveryQueueIsFull() throws Exception {
        TestModelMaker.make(dir.resolve("tiny"), TestModelMaker.Options.of(TestModelMaker.Preset.TINY, 1));
        Model model = new ModelLoader(null).load(dir.resolve("tiny"));
        Devices devices = new Devices(List.of(new CpuEngine(1), new CpuEngine(1)), 1);
        AtomicLong metered = new AtomicLong();
        CountDownLatch done = new CountDownLatch(4);
        CountDownLatch release = new CountDownLatch(1);
        TokenSink holds = (text, ids) -> { // keeps the running jobs on their devices until released
            try {
                release.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        devices.submit(job(model, "d0", 20, metered, done, holds));
        devices.submit(job(model, "d1", 20, metered, done, holds));
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> devices.schedulers().stream().allMatch(s -> s.running() == 1)); // one each, by load
        devices.submit(job(model, "d2", 20, metered, done)); // then one queued on each
        devices.submit(job(model, "d3", 20, metered, done));
        assertThat(devices.schedulers()).allSatisfy(s -> assertThat(s.running() + s.queued()).isPositive());
        assertThatThrownBy(() -> devices.submit(job(model, "overflow", 1, metered, done)))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                    assertThat(e.getStatus().getDescription()).contains("every device's queue is full (2 devices");
                });
        assertThat(devices.cancel("d3")).isTrue();
        release.countDown();
        assertThat(done.await(60, TimeUnit.SECONDS)).isTrue();
        assertThat(metered.get()).isEqualTo(devices.schedulers().stream().mapToLong(JobScheduler::busyNanos).sum());
        devices.drain(Duration.ofSeconds(5));
        devices.close();
    }

    @Test
    void aFullQueueRefusesAtOnceAndDrainingRefusesEverything() throws Exception {
        TestModelMaker.make(dir.resolve("tiny"), TestModelMaker.Options.of(TestModelMaker.Preset.TINY, 1));
        Model model = new ModelLoader(null).load(dir.resolve("tiny"));
        CpuEngine engine = new CpuEngine(1);
        JobScheduler scheduler = new JobScheduler("cpu", engine, 1, JobScheduler.JobTracker.NONE,
                new JobScheduler.Limits(1, 512, 1L << 30), List.of()); // one running, one waiting
        AtomicLong metered = new AtomicLong();
        CountDownLatch done = new CountDownLatch(100);
        int refused = 0;
        for (int i = 0; i < 6; i++) {
            try {
                scheduler.submit(job(model, "q" + i, 200, metered, done));
            } catch (StatusRuntimeException e) {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                assertThat(e.getStatus().getDescription()).contains("queue of cpu is full");
                refused++;
            }
        }
        assertThat(refused).isBetween(4, 5);
        scheduler.drain(Duration.ofSeconds(30));
        assertThatThrownBy(() -> scheduler.submit(job(model, "late", 1, metered, done)))
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
        engine.close();
    }

    @Test
    void aDrainingDeviceRefusesNewJobsWithUnavailableAndSaysWhy() throws Exception {
        TestModelMaker.make(dir.resolve("tiny"), TestModelMaker.Options.of(TestModelMaker.Preset.TINY, 1));
        Model model = new ModelLoader(null).load(dir.resolve("tiny"));
        JobScheduler scheduler = new JobScheduler("cpu", new CpuEngine(1), 4);
        assertThat(scheduler.drain(Duration.ofSeconds(5))).isTrue();
        CountDownLatch done = new CountDownLatch(1);
        assertThatThrownBy(() -> scheduler.submit(job(model, "late", 4, new AtomicLong(), done)))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
                    assertThat(e.getStatus().getDescription()).isEqualTo("node is draining and takes no new jobs");
                });
        assertThat(done.getCount()).isEqualTo(1); // never ran, never finished
    }

    @Test
    void aStepsMeteredTimeIsSplitInWholeMicrosecondsThatAddUpAndFollowTheTokens() {
        assertThat(JobScheduler.split(10, new int[] {1, 1, 1})).containsExactly(4, 3, 3); // ties: the earlier job
        assertThat(JobScheduler.split(7, new int[] {512, 1})).containsExactly(7, 0);
        assertThat(JobScheduler.split(0, new int[] {3, 4})).containsExactly(0, 0);
        java.util.Random random = new java.util.Random(17);
        for (int trial = 0; trial < 2_000; trial++) {
            int[] tokens = new int[1 + random.nextInt(32)];
            long total = 0;
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = 1 + random.nextInt(random.nextBoolean() ? 1 : 512);
                total += tokens[i];
            }
            long micros = random.nextInt(1_000_000);
            long[] shares = JobScheduler.split(micros, tokens);
            assertThat(java.util.Arrays.stream(shares).sum()).isEqualTo(micros);
            for (int i = 0; i < tokens.length; i++) {
                double exact = (double) micros * tokens[i] / total;
                assertThat((double) shares[i]).isBetween(Math.floor(exact), Math.ceil(exact));
            }
            assertThat(JobScheduler.split(micros, tokens)).containsExactly(shares); // deterministic
        }
    }

    @Test
    void aJobWhoseWorstCaseExceedsTheKvPoolIsRefusedWithTheNumbersAndOthersWaitForBlocks() throws Exception {
        TestModelMaker.make(dir.resolve("tiny"), TestModelMaker.Options.of(TestModelMaker.Preset.TINY, 1));
        Model model = new ModelLoader(null).load(dir.resolve("tiny"));
        CpuEngine engine = new CpuEngine(1);
        long block = JobScheduler.bytesPerPosition(model.config()) * engine.kvBlockTokens();
        // 5 blocks: 80 positions. A job of 3 prompt + 60 tokens needs 4 blocks, so two never run together.
        JobScheduler scheduler = new JobScheduler("cpu", engine, 8, JobScheduler.JobTracker.NONE,
                new JobScheduler.Limits(8, 64, 5 * block), List.of(model.config()));
        assertThat(scheduler.kvBlocksTotal()).isEqualTo(5);
        AtomicLong metered = new AtomicLong();
        assertThatThrownBy(() -> scheduler.submit(job(model, "huge", 100, metered, new CountDownLatch(1))))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                    assertThat(e.getStatus().getDescription()).contains("103 positions of KV cache (7 blocks of " + block
                            + " bytes)").contains("holds 5 blocks in all");
                });
        java.util.concurrent.atomic.AtomicInteger most = new java.util.concurrent.atomic.AtomicInteger();
        TokenSink watches = (text, ids) -> most.accumulateAndGet(scheduler.running(), Math::max);
        CountDownLatch done = new CountDownLatch(3);
        for (int i = 0; i < 3; i++) {
            scheduler.submit(job(model, "w" + i, 60, metered, done, watches));
        }
        assertThat(done.await(60, TimeUnit.SECONDS)).isTrue();
        assertThat(most.get()).isEqualTo(1); // each waited for the blocks of the one before
        assertThat(scheduler.kvBlocksUsed()).isZero();
        assertThat(metered.get()).isEqualTo(scheduler.busyNanos());
        scheduler.drain(Duration.ofSeconds(5));
        engine.close();
    }

    @Test
    void aJobsTokensAreTheSameAloneAndInABatchOfSixteenWithChunkedPrompts() throws Exception {
        TestModelMaker.make(dir.resolve("tiny"), TestModelMaker.Options.of(TestModelMaker.Preset.TINY, 1));
        Model model = new ModelLoader(null).load(dir.resolve("tiny"));
        List<List<Integer>> alone = new java.util.ArrayList<>();
        List<List<Integer>> together = new java.util.ArrayList<>();
        for (int i = 0; i < 16; i++) {
            alone.add(new java.util.concurrent.CopyOnWriteArrayList<>());
            together.add(new java.util.concurrent.CopyOnWriteArrayList<>());
        }
        try (CpuEngine engine = new CpuEngine(2)) {
            JobScheduler one = new JobScheduler("cpu", engine, 16, JobScheduler.JobTracker.NONE,
                    new JobScheduler.Limits(1, 512, 1L << 30), List.of(model.config()));
            for (int i = 0; i < 16; i++) {
                CountDownLatch done = new CountDownLatch(1);
                one.submit(promptJob(model, i, alone.get(i), done, () -> {}));
                assertThat(done.await(60, TimeUnit.SECONDS)).isTrue();
            }
            one.drain(Duration.ofSeconds(5));
        }
        try (CpuEngine engine = new CpuEngine(2)) {
            // 16 at once, steps of at most 24 tokens: prompts arrive in chunks beside other jobs' decoding
            JobScheduler batch = new JobScheduler("cpu", engine, 16, JobScheduler.JobTracker.NONE,
                    new JobScheduler.Limits(16, 24, 1L << 30), List.of(model.config()));
            CountDownLatch done = new CountDownLatch(16);
            java.util.concurrent.atomic.AtomicInteger most = new java.util.concurrent.atomic.AtomicInteger();
            for (int i = 0; i < 16; i++) {
                batch.submit(promptJob(model, i, together.get(i), done, () -> most.accumulateAndGet(batch.running(), Math::max)));
            }
            assertThat(done.await(60, TimeUnit.SECONDS)).isTrue();
            assertThat(most.get()).as("jobs running at once").isGreaterThan(1);
            batch.drain(Duration.ofSeconds(5));
        }
        for (int i = 0; i < 16; i++) {
            assertThat(together.get(i)).as("job " + i).isNotEmpty().isEqualTo(alone.get(i));
        }
    }

    /** Job i: a prompt of 2 + 3i tokens, 12 sampled tokens (seeded), its ids collected in {@code out}. */
    private Job promptJob(Model model, int i, List<Integer> out, CountDownLatch done, Runnable onTokens) {
        List<Integer> prompt = new java.util.ArrayList<>();
        for (int t = 0; t < 2 + 3 * i; t++) {
            prompt.add(1 + (t * 7 + i) % (model.config().vocabSize - 1));
        }
        JobTicket ticket = JobTicket.newBuilder().setJobId("p" + i).setModel("tiny").build();
        return new Job(ticket, model, new GenerationRequest(prompt, new SamplingParams(0.9f, 1, 0, 7 + i, 12, List.of()), 0, 0,
                Set.of()), (text, ids) -> {
                    for (int id : ids) {
                        out.add(id);
                    }
                    onTokens.run();
                }, (GenerationResult r, Throwable t) -> done.countDown(), 0);
    }
}
