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
        JobScheduler scheduler = new JobScheduler("cpu", engine, 1);
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
}
