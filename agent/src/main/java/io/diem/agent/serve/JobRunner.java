package io.diem.agent.serve;

import io.diem.agent.engine.FinishReason;
import io.diem.agent.engine.GenerationResult;
import io.diem.agent.metering.ReceiptWriter.JobUsage;
import io.diem.agent.metering.ReceiptWriter;
import io.diem.agent.metrics.AgentMetrics;
import io.diem.v1.ComputeKind;
import io.diem.v1.ExecuteRequest;
import io.diem.v1.ExecuteResponse;
import io.diem.v1.ExecuteSummary;
import io.diem.v1.TokenDelta;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The path of every job, whoever asks for it (the gateway over the node's session, or a local tool):
 * admit it ({@link JobAdmission}), queue it on a device ({@link Devices}), stream its tokens, and
 * report it done only after its receipt is durable ({@link ReceiptWriter}). Every refusal has a
 * precise status and is counted by reason.
 */
public final class JobRunner {

    private static final Logger LOG = Logger.getLogger(JobRunner.class.getName());

    private final JobAdmission admission;
    private final Devices devices;
    private final ReceiptWriter receipts;
    private final AgentMetrics metrics;
    private final ExecutorService finisher;
    private final JobJournal jobs;

    JobRunner(JobAdmission admission, Devices devices, ReceiptWriter receipts, AgentMetrics metrics,
            ExecutorService finisher, JobJournal jobs) {
        this.admission = admission;
        this.devices = devices;
        this.receipts = receipts;
        this.metrics = metrics;
        this.finisher = finisher;
        this.jobs = jobs;
    }

    /** Admits and queues the job; its events, or its refusal, go to {@code call}. */
    public void run(ExecuteRequest request, JobStream call) {
        JobAdmission.Admitted admitted;
        try {
            admitted = admission.admit(request);
        } catch (JobAdmission.Refusal e) {
            metrics.ticketRejected(e.reason());
            call.fail(Status.fromCode(Status.Code.valueOf(e.kind().name())).withDescription(e.getMessage()).asRuntimeException());
            return;
        }
        Job job = job(admitted, call);
        call.onCancel(job::cancel);
        try {
            devices.submit(job);
        } catch (StatusRuntimeException e) {
            metrics.ticketRejected(e.getStatus().getCode() == Status.Code.RESOURCE_EXHAUSTED ? "queue_full" : "draining");
            call.fail(e);
        }
    }

    /** The job of an admitted request: its tokens go to the caller, its end to {@link #finish}. */
    private Job job(JobAdmission.Admitted admitted, JobStream call) {
        AtomicReference<Job> self = new AtomicReference<>();
        long[] lastTokenNanos = {0};
        io.micrometer.core.instrument.Timer interTokenLatency = metrics.interTokenLatency(admitted.ticket().getModel());
        Job job = new Job(admitted.ticket(), admitted.model(), admitted.generation(), (text, ids) -> {
            if (call.isCancelled()) {
                self.get().cancel();
                return;
            }
            long now = System.nanoTime();
            if (lastTokenNanos[0] != 0 && ids.length > 0) {
                AgentMetrics.recordGap(interTokenLatency, now - lastTokenNanos[0], ids.length);
            }
            if (ids.length > 0) {
                lastTokenNanos[0] = now;
            }
            TokenDelta.Builder delta = TokenDelta.newBuilder().setText(text);
            for (int id : ids) {
                delta.addTokenIds(id);
            }
            call.send(ExecuteResponse.newBuilder().setDelta(delta).build());
            self.get().addStreamed(ids.length);
        }, (result, failure) -> finisher.execute(() -> finish(self.get(), call, result, failure)), admitted.admittedAtUnixMicros());
        self.set(job);
        return job;
    }

    /**
     * Appends the receipt (durably), then reports the summary: a job is done only once its usage is
     * safe. Both happen with sealing held off, so the receipt ships only after the summary was sent
     * (the gateway then books it against what it relayed, never against a relay not yet recorded).
     */
    private void finish(Job job, JobStream call, GenerationResult result, Throwable failure) {
        receipts.holdingSeals(() -> writeAndReport(job, call, result, failure));
    }

    private void writeAndReport(Job job, JobStream call, GenerationResult result, Throwable failure) {
        JobScheduler device = job.ranOn;
        ComputeKind kind = device.engine().computeKind();
        JobUsage usage = failure != null
                ? new JobUsage(io.diem.v1.FinishReason.FINISH_REASON_ERROR, job.request.promptTokens().size(), 0, 0, kind,
                        device.engine().parallelism())
                : new JobUsage(wire(result.finishReason()), result.promptTokens(), result.completionTokens().size(),
                        result.computeNanos(), kind, device.engine().parallelism());
        ReceiptWriter.Written written;
        try {
            written = receipts.write(job.ticket, usage, job.admittedAtUnixMicros);
            jobs.finished(job); // its receipt is durable: no interrupted one after a crash
        } catch (IOException e) {
            LOG.log(Level.SEVERE, "could not make the receipt of job " + job.id() + " durable", e);
            if (!call.isCancelled()) {
                call.fail(Status.UNAVAILABLE.withDescription("node could not record usage: " + e.getMessage()).asRuntimeException());
            }
            return;
        }
        long durationNanos = System.nanoTime() - job.admittedNanos;
        metrics.jobFinished(job.ticket.getModel(), failure != null ? "error" : result.finishReason().name(), usage.promptTokens(),
                usage.completionTokens(), device.device(), kind == ComputeKind.COMPUTE_KIND_GPU ? "gpu" : "cpu",
                usage.computeMicros() * 1000, failure != null ? 0 : result.firstTokenNanos(), durationNanos);
        if (call.isCancelled()) {
            return;
        }
        if (failure != null) {
            call.fail(Status.UNAVAILABLE.withDescription("node failed while generating: " + failure).asRuntimeException());
            return;
        }
        call.send(ExecuteResponse.newBuilder().setSummary(ExecuteSummary.newBuilder()
                .setJobId(job.id())
                .setFinishReason(usage.finishReason())
                .setPromptTokens(usage.promptTokens())
                .setCompletionTokens(usage.completionTokens())
                .setGpuMicros(usage.computeMicros())
                .setComputeKind(kind)
                .setWallMicros(durationNanos / 1000)
                .setReceiptSequence(written.sequence())).build());
        call.complete();
    }

    static io.diem.v1.FinishReason wire(FinishReason reason) {
        return switch (reason) {
            case STOP -> io.diem.v1.FinishReason.FINISH_REASON_STOP;
            case LENGTH -> io.diem.v1.FinishReason.FINISH_REASON_LENGTH;
            case EOS -> io.diem.v1.FinishReason.FINISH_REASON_EOS;
            case CANCELLED -> io.diem.v1.FinishReason.FINISH_REASON_CANCELLED;
            case TOKEN_LIMIT -> io.diem.v1.FinishReason.FINISH_REASON_TOKEN_LIMIT;
            case COMPUTE_TIME_LIMIT -> io.diem.v1.FinishReason.FINISH_REASON_GPU_TIME_LIMIT;
        };
    }
}
