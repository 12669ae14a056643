package io.diem.agent.serve;

import io.diem.agent.engine.InferenceEngine;
import io.diem.v1.GpuInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The node's devices: one scheduler (and worker thread) per GPU, or one for the CPU engine. A job
 * goes to the least loaded device whose queue has room; when every queue is full the caller gets
 * RESOURCE_EXHAUSTED at once.
 */
public final class Devices implements AutoCloseable {

    private final List<JobScheduler> schedulers = new ArrayList<>();

    public Devices(List<InferenceEngine> engines, int queueCapacity) {
        this(engines, queueCapacity, JobScheduler.JobTracker.NONE);
    }

    /** @param tracker told when each job starts running (the node's job journal) */
    public Devices(List<InferenceEngine> engines, int queueCapacity, JobScheduler.JobTracker tracker) {
        this(engines, queueCapacity, tracker, JobScheduler.Limits::defaults, List.of());
    }

    /**
     * @param limits each device's batch and KV limits
     * @param models the models the node serves (KV blocks are sized for the largest)
     */
    public Devices(List<InferenceEngine> engines, int queueCapacity, JobScheduler.JobTracker tracker,
            java.util.function.Function<InferenceEngine, JobScheduler.Limits> limits, List<io.diem.agent.model.ModelConfig> models) {
        if (engines.isEmpty()) {
            throw new IllegalArgumentException("a node needs at least one engine");
        }
        for (InferenceEngine e : engines) {
            schedulers.add(new JobScheduler(e.device(), e, queueCapacity, tracker, limits.apply(e), models));
        }
    }

    public List<JobScheduler> schedulers() {
        return schedulers;
    }

    /** Queues the job on the least loaded device with room. */
    public void submit(Job job) {
        StatusRuntimeException last = null;
        List<JobScheduler> byLoad = new ArrayList<>(schedulers);
        byLoad.sort(Comparator.comparingInt(s -> s.running() + s.queued()));
        for (JobScheduler s : byLoad) {
            try {
                s.submit(job);
                return;
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.RESOURCE_EXHAUSTED) {
                    throw e;
                }
                last = e;
            }
        }
        throw Status.RESOURCE_EXHAUSTED.withDescription("every device's queue is full (" + schedulers.size() + " devices"
                + (last == null ? "" : "; " + last.getStatus().getDescription()) + ")").asRuntimeException();
    }

    public boolean cancel(String jobId) {
        boolean found = false;
        for (JobScheduler s : schedulers) {
            found |= s.cancel(jobId);
        }
        return found;
    }

    public int running() {
        return schedulers.stream().mapToInt(JobScheduler::running).sum();
    }

    public int queued() {
        return schedulers.stream().mapToInt(JobScheduler::queued).sum();
    }

    public int capacity() {
        return schedulers.stream().mapToInt(JobScheduler::capacity).sum();
    }

    /** "cuda" or "cpu". */
    public String engineName() {
        return schedulers.get(0).engine().name();
    }

    public List<GpuInfo> gpus() {
        List<GpuInfo> out = new ArrayList<>();
        for (JobScheduler s : schedulers) {
            s.engine().gpu().ifPresent(out::add);
        }
        return out;
    }

    /** Drains every device within one shared bound; true if nothing had to be cancelled. */
    public boolean drain(Duration bound) throws InterruptedException {
        long deadline = System.nanoTime() + bound.toNanos();
        boolean clean = true;
        for (JobScheduler s : schedulers) {
            clean &= s.drain(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
        }
        return clean;
    }

    @Override
    public void close() {
        for (JobScheduler s : schedulers) {
            s.engine().close();
        }
    }
}
