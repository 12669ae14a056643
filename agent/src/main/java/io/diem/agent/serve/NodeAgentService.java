package io.diem.agent.serve;

import io.diem.agent.engine.FinishReason;
import io.diem.agent.engine.GenerationRequest;
import io.diem.agent.engine.GenerationResult;
import io.diem.agent.engine.SamplingParams;
import io.diem.agent.journal.UsageJournal;
import io.diem.agent.metrics.AgentMetrics;
import io.diem.agent.model.Model;
import io.diem.agent.tokenizer.ChatTemplate;
import io.diem.sign.TicketVerifier;
import io.diem.sign.VerificationException;
import io.diem.v1.CancelRequest;
import io.diem.v1.CancelResponse;
import io.diem.v1.ComputeKind;
import io.diem.v1.DescribeRequest;
import io.diem.v1.DescribeResponse;
import io.diem.v1.ExecuteRequest;
import io.diem.v1.ExecuteResponse;
import io.diem.v1.ExecuteSummary;
import io.diem.v1.GenerateRequest;
import io.diem.v1.JobTicket;
import io.diem.v1.NodeAgentGrpc;
import io.diem.v1.ServedModel;
import io.diem.v1.TokenDelta;
import io.diem.v1.UsageReceipt;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code diem.v1.NodeAgent}: runs a job only with a valid ticket for this node and a model it serves,
 * within the ticket's limits; streams tokens; makes the job's receipt durable in the journal before
 * reporting it done. Every refusal has a precise status and is counted by reason.
 */
public final class NodeAgentService extends NodeAgentGrpc.NodeAgentImplBase {

    private static final Logger LOG = Logger.getLogger(NodeAgentService.class.getName());
    private static final SecureRandom SEEDS = new SecureRandom();

    private final String nodeId;
    private final TicketVerifier tickets;
    private final Map<String, Model> models;
    private final Devices devices;
    private final UsageJournal journal;
    private final AgentMetrics metrics;
    private final ExecutorService finisher;
    private final Clock clock;
    private final String agentVersion;

    public NodeAgentService(String nodeId, TicketVerifier tickets, Map<String, Model> models, Devices devices,
            UsageJournal journal, AgentMetrics metrics, ExecutorService finisher, Clock clock, String agentVersion) {
        this.nodeId = nodeId;
        this.tickets = tickets;
        this.models = models;
        this.devices = devices;
        this.journal = journal;
        this.metrics = metrics;
        this.finisher = finisher;
        this.clock = clock;
        this.agentVersion = agentVersion;
    }

    @Override
    public void execute(ExecuteRequest request, StreamObserver<ExecuteResponse> responses) {
        ServerCallStreamObserver<ExecuteResponse> call = (ServerCallStreamObserver<ExecuteResponse>) responses;
        Job job;
        try {
            job = admit(request, call);
        } catch (StatusRuntimeException e) {
            call.onError(e);
            return;
        }
        call.setOnCancelHandler(job::cancel);
        try {
            devices.submit(job);
        } catch (StatusRuntimeException e) {
            metrics.ticketRejected(e.getStatus().getCode() == Status.Code.RESOURCE_EXHAUSTED ? "queue_full" : "draining");
            call.onError(e);
        }
    }

    private Job admit(ExecuteRequest request, ServerCallStreamObserver<ExecuteResponse> call) {
        JobTicket ticket;
        try {
            ticket = tickets.verifyAndConsume(request.getTicket());
        } catch (VerificationException e) {
            metrics.ticketRejected(e.reason().name());
            throw ticketStatus(e).withDescription("ticket refused: " + e.getMessage()).asRuntimeException();
        }
        Model model = models.get(ticket.getModel());
        if (model == null) {
            metrics.ticketRejected("model_not_served");
            throw Status.NOT_FOUND.withDescription("this node does not serve model '" + ticket.getModel() + "' (it serves "
                    + String.join(", ", models.keySet()) + ")").asRuntimeException();
        }
        GenerateRequest g = request.getRequest();
        if (!g.getModel().isEmpty() && !g.getModel().equals(ticket.getModel())) {
            metrics.ticketRejected("model_mismatch");
            throw Status.PERMISSION_DENIED.withDescription("request is for model '" + g.getModel() + "' but the ticket is for '"
                    + ticket.getModel() + "'").asRuntimeException();
        }
        List<Integer> prompt;
        SamplingParams sampling;
        try {
            prompt = prompt(model, g);
            sampling = sampling(g, ticket);
        } catch (IllegalArgumentException e) {
            metrics.ticketRejected("invalid_request");
            throw Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException();
        }
        if (prompt.size() > ticket.getMaxPromptTokens()) {
            metrics.ticketRejected("prompt_over_ticket");
            throw Status.PERMISSION_DENIED.withDescription("prompt has " + prompt.size() + " tokens; the ticket allows "
                    + ticket.getMaxPromptTokens()).asRuntimeException();
        }
        if (prompt.size() >= model.config().contextLength) {
            metrics.ticketRejected("prompt_too_long");
            throw Status.INVALID_ARGUMENT.withDescription("prompt has " + prompt.size() + " tokens; model " + ticket.getModel()
                    + " has a context of " + model.config().contextLength).asRuntimeException();
        }
        GenerationRequest generation = new GenerationRequest(prompt, sampling, ticket.getMaxCompletionTokens(),
                ticket.getGpuMicrosLimit() * 1000, new HashSet<>(model.tokenizer().eosIds()));
        long admittedAt = TicketVerifier.micros(clock.instant());
        Job[] self = new Job[1];
        Job job = new Job(ticket, model, generation, (text, ids) -> {
            if (call.isCancelled()) {
                self[0].cancel();
                return;
            }
            TokenDelta.Builder delta = TokenDelta.newBuilder().setText(text);
            for (int id : ids) {
                delta.addTokenIds(id);
            }
            call.onNext(ExecuteResponse.newBuilder().setDelta(delta).build());
        }, (result, failure) -> finisher.execute(() -> finish(self[0], call, result, failure)), admittedAt);
        self[0] = job;
        return job;
    }

    /** Appends the receipt (durably), then reports the summary: a job is done only once its usage is safe. */
    private void finish(Job job, ServerCallStreamObserver<ExecuteResponse> call, GenerationResult result, Throwable failure) {
        long finishedAt = TicketVerifier.micros(clock.instant());
        io.diem.v1.FinishReason reason = failure != null ? io.diem.v1.FinishReason.FINISH_REASON_ERROR : wire(result.finishReason());
        int promptTokens = failure != null ? job.request.promptTokens().size() : result.promptTokens();
        int completionTokens = failure != null ? 0 : result.completionTokens().size();
        long gpuMicros = failure != null ? 0 : (result.computeNanos() + 999) / 1000;
        JobScheduler device = job.ranOn;
        ComputeKind kind = device.engine().computeKind();
        UsageReceipt receipt = UsageReceipt.newBuilder()
                .setJobId(job.id())
                .setNodeId(nodeId)
                .setAccountRef(job.ticket.getAccountRef())
                .setModel(job.ticket.getModel())
                .setFinishReason(reason)
                .setPromptTokens(promptTokens)
                .setCompletionTokens(completionTokens)
                .setGpuMicros(gpuMicros)
                .setComputeKind(kind)
                .setGpusUsed(Devices.devicesUsed(device))
                .setStartedAtUnixMicros(job.admittedAtUnixMicros)
                .setFinishedAtUnixMicros(Math.max(finishedAt, job.admittedAtUnixMicros))
                .build();
        long sequence;
        try {
            sequence = journal.append(receipt);
        } catch (IOException e) {
            LOG.log(Level.SEVERE, "could not make the receipt of job " + job.id() + " durable", e);
            if (!call.isCancelled()) {
                call.onError(Status.UNAVAILABLE.withDescription("node could not record usage: " + e.getMessage()).asRuntimeException());
            }
            return;
        }
        long durationNanos = System.nanoTime() - job.admittedNanos;
        metrics.jobFinished(job.ticket.getModel(), failure != null ? "error" : result.finishReason().name(), promptTokens,
                completionTokens, device.device(), kind == ComputeKind.COMPUTE_KIND_GPU ? "gpu" : "cpu",
                gpuMicros * 1000, failure != null ? 0 : result.firstTokenNanos(), durationNanos);
        if (call.isCancelled()) {
            return;
        }
        if (failure != null) {
            call.onError(Status.UNAVAILABLE.withDescription("node failed while generating: " + failure).asRuntimeException());
            return;
        }
        call.onNext(ExecuteResponse.newBuilder().setSummary(ExecuteSummary.newBuilder()
                .setJobId(job.id())
                .setFinishReason(reason)
                .setPromptTokens(promptTokens)
                .setCompletionTokens(completionTokens)
                .setGpuMicros(gpuMicros)
                .setComputeKind(kind)
                .setWallMicros(durationNanos / 1000)
                .setReceiptSequence(sequence)).build());
        call.onCompleted();
    }

    static io.diem.v1.FinishReason wire(FinishReason reason) {
        return switch (reason) {
            case STOP -> io.diem.v1.FinishReason.FINISH_REASON_STOP;
            case LENGTH -> io.diem.v1.FinishReason.FINISH_REASON_LENGTH;
            case EOS -> io.diem.v1.FinishReason.FINISH_REASON_EOS;
            case CANCELLED -> io.diem.v1.FinishReason.FINISH_REASON_CANCELLED;
            case TOKEN_LIMIT -> io.diem.v1.FinishReason.FINISH_REASON_TOKEN_LIMIT;
            case GPU_TIME_LIMIT -> io.diem.v1.FinishReason.FINISH_REASON_GPU_TIME_LIMIT;
        };
    }

    static Status ticketStatus(VerificationException e) {
        return switch (e.reason()) {
            case WRONG_NODE -> Status.PERMISSION_DENIED;
            case EXPIRED, NOT_YET_VALID -> Status.FAILED_PRECONDITION;
            case REPLAYED -> Status.ALREADY_EXISTS;
            default -> Status.UNAUTHENTICATED;
        };
    }

    private static List<Integer> prompt(Model model, GenerateRequest g) {
        switch (g.getInputCase()) {
            case PROMPT:
                if (g.getPrompt().isEmpty()) {
                    throw new IllegalArgumentException("prompt is empty");
                }
                return model.tokenizer().encode(g.getPrompt());
            case CHAT:
                if (g.getChat().getMessagesCount() == 0) {
                    throw new IllegalArgumentException("chat has no messages");
                }
                List<ChatTemplate.Message> messages = new ArrayList<>();
                g.getChat().getMessagesList().forEach(m -> {
                    if (!List.of("system", "user", "assistant").contains(m.getRole())) {
                        throw new IllegalArgumentException("chat role must be system, user or assistant, got '" + m.getRole() + "'");
                    }
                    messages.add(new ChatTemplate.Message(m.getRole(), m.getContent()));
                });
                return model.tokenizer().encodeChat(messages);
            case TOKEN_IDS:
                if (g.getTokenIds().getIdsCount() == 0) {
                    throw new IllegalArgumentException("token_ids is empty");
                }
                for (int id : g.getTokenIds().getIdsList()) {
                    if (id < 0 || id >= model.config().vocabSize) {
                        throw new IllegalArgumentException("token id " + Integer.toUnsignedString(id)
                                + " is outside the vocabulary (0.." + (model.config().vocabSize - 1) + ")");
                    }
                }
                return g.getTokenIds().getIdsList();
            default:
                throw new IllegalArgumentException("the request has no input: set prompt, chat or token_ids");
        }
    }

    private static SamplingParams sampling(GenerateRequest g, JobTicket ticket) {
        var s = g.getSampling();
        int maxTokens = s.getMaxTokens() == 0 ? ticket.getMaxCompletionTokens() : s.getMaxTokens();
        if (maxTokens <= 0) {
            throw new IllegalArgumentException("max_tokens must be >= 1");
        }
        if (s.getTopK() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("top_k is too large");
        }
        long seed = s.hasSeed() ? s.getSeed() : SEEDS.nextLong();
        return new SamplingParams(s.getTemperature(), s.getTopP() == 0 ? 1f : s.getTopP(), s.getTopK(), seed, maxTokens,
                s.getStopList());
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
