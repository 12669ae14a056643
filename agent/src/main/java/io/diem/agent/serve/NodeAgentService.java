package io.diem.agent.serve;

import io.diem.agent.engine.FinishReason;
import io.diem.agent.engine.GenerationResult;
import io.diem.agent.metering.ReceiptWriter.JobUsage;
import io.diem.agent.metering.ReceiptWriter;
import io.diem.agent.metrics.AgentMetrics;
import io.diem.agent.model.Model;
import io.diem.v1.CancelRequest;
import io.diem.v1.CancelResponse;
import io.diem.v1.ComputeKind;
import io.diem.v1.DescribeRequest;
import io.diem.v1.DescribeResponse;
import io.diem.v1.ExecuteRequest;
import io.diem.v1.ExecuteResponse;
import io.diem.v1.ExecuteSummary;
import io.diem.v1.NodeAgentGrpc;
import io.diem.v1.ServedModel;
import io.diem.v1.TokenDelta;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code diem.v1.NodeAgent} over gRPC: admits a job ({@link JobAdmission}), queues it on a device
 * ({@link Devices}), streams its tokens, and reports it done only after its receipt is durable
 * ({@link ReceiptWriter}). Every refusal has a precise status and is counted by reason.
 */
public final class NodeAgentService extends NodeAgentGrpc.NodeAgentImplBase {

    private static final Logger LOG = Logger.getLogger(NodeAgentService.class.getName());

    private final String nodeId;
    private final JobAdmission admission;
    private final Map<String, Model> models;
    private final Devices devices;
    private final ReceiptWriter receipts;
    private final AgentMetrics metrics;
    private final ExecutorService finisher;
    private final String agentVersion;

    public NodeAgentService(String nodeId, JobAdmission admission, Map<String, Model> models, Devices devices,
            ReceiptWriter receipts, AgentMetrics metrics, ExecutorService finisher, String agentVersion) {
        this.nodeId = nodeId;
        this.admission = admission;
        this.models = models;
        this.devices = devices;
        this.receipts = receipts;
        this.metrics = metrics;
        this.finisher = finisher;
        this.agentVersion = agentVersion;
    }

    @Override
    public void execute(ExecuteRequest request, StreamObserver<ExecuteResponse> responses) {
        ServerCallStreamObserver<ExecuteResponse> call = (ServerCallStreamObserver<ExecuteResponse>) responses;
        JobAdmission.Admitted admitted;
        try {
            admitted = admission.admit(request);
        } catch (JobAdmission.Refusal e) {
            metrics.ticketRejected(e.reason());
            call.onError(Status.fromCode(Status.Code.valueOf(e.kind().name())).withDescription(e.getMessage()).asRuntimeException());
            return;
        }
        Job job = job(admitted, call);
        call.setOnCancelHandler(job::cancel);
        try {
            devices.submit(job);
        } catch (StatusRuntimeException e) {
            metrics.ticketRejected(e.getStatus().getCode() == Status.Code.RESOURCE_EXHAUSTED ? "queue_full" : "draining");
            call.onError(e);
        }
    }

    /** The job of an admitted request: its tokens go to the caller, its end to {@link #finish}. */
    private Job job(JobAdmission.Admitted admitted, ServerCallStreamObserver<ExecuteResponse> call) {
        AtomicReference<Job> self = new AtomicReference<>();
        Job job = new Job(admitted.ticket(), admitted.model(), admitted.generation(), (text, ids) -> {
            if (call.isCancelled()) {
                self.get().cancel();
                return;
            }
            TokenDelta.Builder delta = TokenDelta.newBuilder().setText(text);
            for (int id : ids) {
                delta.addTokenIds(id);
            }
            call.onNext(ExecuteResponse.newBuilder().setDelta(delta).build());
        }, (result, failure) -> finisher.execute(() -> finish(self.get(), call, result, failure)), admitted.admittedAtUnixMicros());
        self.set(job);
        return job;
    }

    /** Appends the receipt (durably), then reports the summary: a job is done only once its usage is safe. */
    private void finish(Job job, ServerCallStreamObserver<ExecuteResponse> call, GenerationResult result, Throwable failure) {
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
        } catch (IOException e) {
            LOG.log(Level.SEVERE, "could not make the receipt of job " + job.id() + " durable", e);
            if (!call.isCancelled()) {
                call.onError(Status.UNAVAILABLE.withDescription("node could not record usage: " + e.getMessage()).asRuntimeException());
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
            call.onError(Status.UNAVAILABLE.withDescription("node failed while generating: " + failure).asRuntimeException());
            return;
        }
        call.onNext(ExecuteResponse.newBuilder().setSummary(ExecuteSummary.newBuilder()
                .setJobId(job.id())
                .setFinishReason(usage.finishReason())
                .setPromptTokens(usage.promptTokens())
                .setCompletionTokens(usage.completionTokens())
                .setGpuMicros(usage.computeMicros())
                .setComputeKind(kind)
                .setWallMicros(durationNanos / 1000)
                .setReceiptSequence(written.sequence())).build());
        call.onCompleted();
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

    @Override
    public void cancel(CancelRequest request, StreamObserver<CancelResponse> responses) {
        responses.onNext(CancelResponse.newBuilder().setCancelled(devices.cancel(request.getJobId())).build());
        responses.onCompleted();
    }

    @Override
    public void describe(DescribeRequest request, StreamObserver<DescribeResponse> responses) {
        DescribeResponse.Builder b = DescribeResponse.newBuilder()
                .setNodeId(nodeId)
                .setEngine(devices.engineName())
                .setCapacity(devices.capacity())
                .setRunning(devices.running())
                .setQueued(devices.queued())
                .setAgentVersion(agentVersion);
        models.forEach((name, m) -> b.addModels(served(name, m)));
        b.addAllGpus(devices.gpus());
        responses.onNext(b.build());
        responses.onCompleted();
    }

    static ServedModel served(String name, Model m) {
        return ServedModel.newBuilder()
                .setName(name)
                .setContextLength(m.config().contextLength)
                .setParameters(m.config().parameterCount())
                .setDtype(m.weights().dtype().name())
                .setVocabSize(m.config().vocabSize)
                .build();
    }
}
