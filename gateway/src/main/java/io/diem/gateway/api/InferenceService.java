package io.diem.gateway.api;

import com.google.protobuf.Any;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import io.diem.gateway.auth.Caller;
import io.diem.gateway.dispatch.NodeChannels;
import io.diem.gateway.dispatch.NodeRegistry;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerException;
import io.diem.gateway.ledger.LedgerViews;
import io.diem.gateway.ledger.Pricing;
import io.diem.gateway.metrics.GatewayMetrics;
import io.diem.gateway.usage.JobStore;
import io.diem.sign.TicketMinter;
import io.diem.v1.Balance;
import io.diem.v1.ChatMessage;
import io.diem.v1.ExecuteRequest;
import io.diem.v1.ExecuteResponse;
import io.diem.v1.ExecuteSummary;
import io.diem.v1.FinishReason;
import io.diem.v1.GenerateFinal;
import io.diem.v1.GenerateRequest;
import io.diem.v1.GenerateResponse;
import io.diem.v1.GetBalanceRequest;
import io.diem.v1.GetUsageRequest;
import io.diem.v1.GetUsageResponse;
import io.diem.v1.InferenceGrpc;
import io.diem.v1.JobTicket;
import io.diem.v1.ListModelsRequest;
import io.diem.v1.ListModelsResponse;
import io.diem.v1.ModelInfo;
import io.diem.v1.NodeAgentGrpc;
import io.diem.v1.Usage;
import io.diem.v1.UsageRecord;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;

/**
 * {@code diem.v1.Inference}: validate, reserve the worst-case cost, pick a node, mint a ticket,
 * relay the node's stream, end with usage and the balance after. A node that fails before its first
 * token is replaced by another; one that fails later ends the call with UNAVAILABLE, and the caller
 * is charged only for what was delivered (when the receipt is booked).
 */
public final class InferenceService extends InferenceGrpc.InferenceImplBase {

    /** Limits and defaults of the public API. */
    public record Limits(int maxPromptBytes, int maxTokens, int defaultMaxTokens, int maxChatMessages, int maxStops,
            int maxStopLength, long gpuMicrosPerCall, int perKeyConcurrency, Duration ticketTtl, int dispatchAttempts) {

        public static Limits defaults() {
            return new Limits(1 << 20, 4096, 256, 256, 4, 64, 30_000_000L, 16, Duration.ofMinutes(10), 3);
        }
    }

    private final Ledger ledger;
    private final NodeRegistry nodes;
    private final NodeChannels channels;
    private final JobStore jobs;
    private final GatewayMetrics metrics;
    private final Limits limits;
    private final Map<String, Semaphore> perKey = new ConcurrentHashMap<>();

    public InferenceService(Ledger ledger, NodeRegistry nodes, NodeChannels channels, JobStore jobs, GatewayMetrics metrics,
            Limits limits) {
        this.ledger = ledger;
        this.nodes = nodes;
        this.channels = channels;
        this.jobs = jobs;
        this.metrics = metrics;
        this.limits = limits;
    }

    @Override
    public void generate(GenerateRequest request, StreamObserver<GenerateResponse> responses) {
        ServerCallStreamObserver<GenerateResponse> call = (ServerCallStreamObserver<GenerateResponse>) responses;
        call.setOnCancelHandler(() -> {}); // cancellation reaches the node through the propagated context
        long start = System.nanoTime();
        LedgerViews.ApiKey key = Caller.key();
        Semaphore slots = perKey.computeIfAbsent(key.keyId(), k -> new Semaphore(limits.perKeyConcurrency()));
        if (!slots.tryAcquire()) {
            metrics.rejected("key_concurrency");
            call.onError(Status.RESOURCE_EXHAUSTED.withDescription("key " + key.keyId() + " already has "
                    + limits.perKeyConcurrency() + " calls in flight (the per-key limit); wait for one to finish")
                    .asRuntimeException());
            return;
        }
        try {
            run(request, call, key, start);
        } catch (StatusRuntimeException e) {
            call.onError(e);
        } catch (LedgerException e) {
            call.onError(GrpcErrors.status(e).asRuntimeException());
        } finally {
            slots.release();
        }
    }

    private void run(GenerateRequest request, ServerCallStreamObserver<GenerateResponse> call, LedgerViews.ApiKey key, long start) {
        String model = request.getModel();
        int maxTokens = validate(request);
        Pricing price = ledger.price(model).orElseThrow(() -> {
            metrics.rejected("unknown_model");
            return Status.NOT_FOUND.withDescription("model '" + model + "' is not offered (no price is set); see ListModels")
                    .asRuntimeException();
        });
        Map<String, int[]> available = nodes.availableModels();
        if (!available.containsKey(model)) {
            metrics.rejected("no_node");
            throw Status.UNAVAILABLE.withDescription("no healthy node serves model '" + model + "' right now; retry later")
                    .asRuntimeException();
        }
        int context = available.get(model)[0];
        if (maxTokens >= context) {
            metrics.rejected("invalid_request");
            throw Status.INVALID_ARGUMENT.withDescription("max_tokens " + maxTokens + " does not fit the context of " + context
                    + " tokens of model '" + model + "'").asRuntimeException();
        }
        long maxPrompt = Math.min(promptTokenBound(request), context - 1);
        long worst = price.chargeMicroUsd(maxPrompt, maxTokens, limits.gpuMicrosPerCall());
        String callId = "call_" + UUID.randomUUID();
        try {
            ledger.reserve(callId, key.accountId(), key.keyId(), worst);
        } catch (LedgerException e) {
            if (e.kind() == LedgerException.Kind.RESOURCE_EXHAUSTED) {
                metrics.rejected("insufficient_credit");
                LedgerViews.Balance b = ledger.balance(key.accountId());
                throw StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder()
                        .setCode(Code.RESOURCE_EXHAUSTED_VALUE)
                        .setMessage(e.getMessage())
                        .addDetails(Any.pack(ErrorInfo.newBuilder().setReason("INSUFFICIENT_CREDIT").setDomain("diem.v1")
                                .putMetadata("remaining_micro_usd", Long.toString(b.remaining()))
                                .putMetadata("needed_micro_usd", Long.toString(worst))
                                .putMetadata("resets_at", b.resetsAt().toString()).build()))
                        .build());
            }
            throw e;
        }
        metrics.admitted(model);
        relay(request, call, key, price, callId, maxPrompt, maxTokens, start);
    }

    /** Dispatches (retrying nodes that fail before the first token) and relays the stream. */
    private void relay(GenerateRequest request, ServerCallStreamObserver<GenerateResponse> call, LedgerViews.ApiKey key,
            Pricing price, String callId, long maxPrompt, int maxTokens, long start) {
        String model = request.getModel();
        Set<String> tried = new HashSet<>();
        StatusRuntimeException lastFailure = null;
        long nodeNanos = 0;
        for (int attempt = 0; attempt < limits.dispatchAttempts(); attempt++) {
            Optional<NodeRegistry.Node> picked = nodes.pick(model, tried);
            if (picked.isEmpty()) {
                break;
            }
            NodeRegistry.Node node = picked.get();
            tried.add(node.nodeId());
            String jobId = "job_" + UUID.randomUUID();
            long now = ledger.now();
            JobTicket ticket = JobTicket.newBuilder().setJobId(jobId).setNodeId(node.nodeId()).setAccountRef(callId)
                    .setModel(model).setMaxPromptTokens((int) maxPrompt).setMaxCompletionTokens(maxTokens)
                    .setGpuMicrosLimit(limits.gpuMicrosPerCall()).setIssuedAtUnixMicros(now)
                    .setExpiresAtUnixMicros(now + limits.ticketTtl().toNanos() / 1000).build();
            jobs.insert(new JobStore.Job(jobId, callId, key.accountId(), key.keyId(), node.nodeId(), model, maxPrompt, maxTokens,
                    limits.gpuMicrosPerCall(), now, "dispatched", false, 0, 0, 0));
            GenerateRequest forNode = request.getSampling().getMaxTokens() == 0
                    ? request.toBuilder().setSampling(request.getSampling().toBuilder().setMaxTokens(maxTokens)).build() : request;
            ExecuteRequest execute = ExecuteRequest.newBuilder()
                    .setTicket(TicketMinter.mint(nodes.ticketKey(node.nodeId()), ticket)).setRequest(forNode).build();
            long relayed = 0;
            ExecuteSummary summary = null;
            long dispatchedAt = System.nanoTime();
            nodes.inflight(node.nodeId()).incrementAndGet();
            try {
                Iterator<ExecuteResponse> stream = NodeAgentGrpc.newBlockingStub(channels.forEndpoint(node.endpoint()))
                        .execute(execute);
                while (stream.hasNext()) {
                    ExecuteResponse r = stream.next();
                    if (r.hasDelta()) {
                        if (relayed == 0 && r.getDelta().getTokenIdsCount() > 0) {
                            metrics.timeToFirstToken(model, System.nanoTime() - start);
                        }
                        relayed += r.getDelta().getTokenIdsCount();
                        call.onNext(GenerateResponse.newBuilder().setDelta(r.getDelta()).build());
                    } else if (r.hasSummary()) {
                        summary = r.getSummary();
                    }
                }
            } catch (StatusRuntimeException e) {
                nodeNanos += System.nanoTime() - dispatchedAt;
                if (call.isCancelled() || e.getStatus().getCode() == Status.Code.CANCELLED
                        || e.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED) {
                    jobs.recordRelayed(jobId, 0, relayed, false); // the node's receipt books what it used, capped at this
                    throw e.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED ? e
                            : Status.CANCELLED.withDescription("call cancelled").asRuntimeException();
                }
                if (relayed == 0 && e.getStatus().getCode() != Status.Code.INVALID_ARGUMENT) {
                    jobs.transition(jobId, "dispatched", "abandoned"); // never charged; try another node
                    lastFailure = e;
                    continue;
                }
                if (relayed == 0) {
                    jobs.transition(jobId, "dispatched", "abandoned");
                    ledger.release(callId);
                    throw e; // the node found the request itself invalid
                }
                jobs.recordRelayed(jobId, 0, relayed, false);
                throw Status.UNAVAILABLE.withDescription("node " + node.nodeId() + " failed after " + relayed
                        + " tokens (" + e.getStatus().getCode() + "); you are charged only for what was delivered").asRuntimeException();
            } finally {
                nodes.inflight(node.nodeId()).decrementAndGet();
            }
            nodeNanos += System.nanoTime() - dispatchedAt;
            if (summary == null) {
                jobs.recordRelayed(jobId, 0, relayed, false);
                throw Status.UNAVAILABLE.withDescription("node " + node.nodeId() + " ended the stream without a summary after "
                        + relayed + " tokens; you are charged only for what was delivered").asRuntimeException();
            }
            jobs.recordRelayed(jobId, summary.getPromptTokens(), relayed, true);
            finish(call, key, price, callId, jobId, node.nodeId(), summary, start, nodeNanos);
            return;
        }
        ledger.release(callId);
        throw Status.UNAVAILABLE.withDescription("no node could run the call (" + tried.size() + " tried"
                + (lastFailure == null ? "" : "; last: " + lastFailure.getStatus().getCode() + " "
                        + lastFailure.getStatus().getDescription()) + "); nothing was charged").asRuntimeException();
    }

    private void finish(ServerCallStreamObserver<GenerateResponse> call, LedgerViews.ApiKey key, Pricing price, String callId,
            String jobId, String nodeId, ExecuteSummary s, long start, long nodeNanos) {
        long cost = price.chargeMicroUsd(s.getPromptTokens(), s.getCompletionTokens(), s.getGpuMicros());
        // The charge is booked when the node's signed receipt arrives; the balance after is that charge applied now.
        LedgerViews.Balance b = ledger.balance(key.accountId());
        long reserved = ledger.reservation(callId).filter(r -> r.state().equals("pending")).map(LedgerViews.Reservation::amount)
                .orElse(0L);
        long spent = b.spent() + (reserved > 0 ? Math.min(cost, reserved) : 0);
        long held = b.reserved() - reserved;
        Balance after = Protos.balance(new LedgerViews.Balance(b.accountId(), b.allowance(), spent, held,
                Math.max(0, b.allowance() - spent - held), b.resetsAt()));
        call.onNext(GenerateResponse.newBuilder().setFinal(GenerateFinal.newBuilder()
                .setFinishReason(s.getFinishReason())
                .setUsage(Usage.newBuilder().setPromptTokens(s.getPromptTokens()).setCompletionTokens(s.getCompletionTokens())
                        .setGpuMicros(s.getGpuMicros()).setCostMicroUsd(cost).setComputeKind(s.getComputeKind()))
                .setJobId(jobId).setNodeId(nodeId).setBalanceAfter(after)).build());
        call.onCompleted();
        long total = System.nanoTime() - start;
        metrics.latency(price.model(), total);
        metrics.overhead(price.model(), total - nodeNanos);
    }

    /** Checks the request against the API's limits; returns the max_tokens to use. */
    private int validate(GenerateRequest r) {
        try {
            if (r.getModel().isEmpty()) {
                throw new IllegalArgumentException("model is required (see ListModels)");
            }
            switch (r.getInputCase()) {
                case PROMPT -> {
                    int bytes = r.getPrompt().getBytes(StandardCharsets.UTF_8).length;
                    if (bytes == 0 || bytes > limits.maxPromptBytes()) {
                        throw new IllegalArgumentException("prompt must be 1.." + limits.maxPromptBytes() + " bytes, got " + bytes);
                    }
                }
                case CHAT -> {
                    int n = r.getChat().getMessagesCount();
                    if (n == 0 || n > limits.maxChatMessages()) {
                        throw new IllegalArgumentException("chat must have 1.." + limits.maxChatMessages() + " messages, got " + n);
                    }
                    long bytes = 0;
                    for (ChatMessage m : r.getChat().getMessagesList()) {
                        if (!List.of("system", "user", "assistant").contains(m.getRole())) {
                            throw new IllegalArgumentException("chat role must be system, user or assistant, got '" + m.getRole() + "'");
                        }
                        bytes += m.getContent().getBytes(StandardCharsets.UTF_8).length;
                    }
                    if (bytes > limits.maxPromptBytes()) {
                        throw new IllegalArgumentException("chat content must be at most " + limits.maxPromptBytes() + " bytes, got " + bytes);
                    }
                }
                case TOKEN_IDS -> {
                    int n = r.getTokenIds().getIdsCount();
                    if (n == 0 || n > limits.maxPromptBytes()) {
                        throw new IllegalArgumentException("token_ids must have 1.." + limits.maxPromptBytes() + " ids, got " + n);
                    }
                }
                default -> throw new IllegalArgumentException("set one input: prompt, chat or token_ids");
            }
            var s = r.getSampling();
            if (!(s.getTemperature() >= 0 && s.getTemperature() <= 2)) {
                throw new IllegalArgumentException("temperature must be in [0, 2], got " + s.getTemperature());
            }
            if (!(s.getTopP() >= 0 && s.getTopP() <= 1)) {
                throw new IllegalArgumentException("top_p must be in [0, 1] (0 = unset), got " + s.getTopP());
            }
            if (s.getMaxTokens() > limits.maxTokens()) {
                throw new IllegalArgumentException("max_tokens must be 1.." + limits.maxTokens() + " (0 = " + limits.defaultMaxTokens()
                        + "), got " + Integer.toUnsignedString(s.getMaxTokens()));
            }
            if (s.getStopCount() > limits.maxStops()) {
                throw new IllegalArgumentException("at most " + limits.maxStops() + " stop sequences, got " + s.getStopCount());
            }
            for (String stop : s.getStopList()) {
                if (stop.isEmpty() || stop.length() > limits.maxStopLength()) {
                    throw new IllegalArgumentException("stop sequences must be 1.." + limits.maxStopLength() + " characters");
                }
            }
            return s.getMaxTokens() == 0 ? limits.defaultMaxTokens() : s.getMaxTokens();
        } catch (IllegalArgumentException e) {
            metrics.rejected("invalid_request");
            throw Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException();
        }
    }

    /**
     * An upper bound on the prompt's tokens without tokenizing: byte-level BPE gives each token at
     * least one byte, so UTF-8 bytes + BOS bound a prompt; chat adds the template's markers.
     */
    static long promptTokenBound(GenerateRequest r) {
        return switch (r.getInputCase()) {
            case PROMPT -> r.getPrompt().getBytes(StandardCharsets.UTF_8).length + 1L;
            case TOKEN_IDS -> r.getTokenIds().getIdsCount();
            case CHAT -> 16L + r.getChat().getMessagesList().stream()
                    .mapToLong(m -> 16L + m.getRole().length() + m.getContent().getBytes(StandardCharsets.UTF_8).length).sum();
            default -> 0;
        };
    }

    @Override
    public void listModels(ListModelsRequest request, StreamObserver<ListModelsResponse> responses) {
        GrpcErrors.unary(responses, () -> {
            Caller.key();
            ListModelsResponse.Builder b = ListModelsResponse.newBuilder();
            nodes.availableModels().forEach((name, v) -> ledger.price(name).ifPresent(p -> b.addModels(ModelInfo.newBuilder()
                    .setName(name).setContextLength(v[0]).setNodes(v[1]).setPrice(Protos.price(p)))));
            return b.build();
        });
    }

    @Override
    public void getBalance(GetBalanceRequest request, StreamObserver<Balance> responses) {
        GrpcErrors.unary(responses, () -> Protos.balance(ledger.balance(Caller.account(request.getAccountId()))));
    }

    @Override
    public void getUsage(GetUsageRequest request, StreamObserver<GetUsageResponse> responses) {
        GrpcErrors.unary(responses, () -> {
            String account = Caller.account(request.getAccountId());
            if (request.getPageSize() > 1000) {
                throw new IllegalArgumentException("page_size must be 0..1000, got " + request.getPageSize());
            }
            int size = request.getPageSize() == 0 ? 100 : request.getPageSize();
            List<LedgerViews.UsageRecord> page = ledger.usage(account, size, request.getPageToken());
            GetUsageResponse.Builder b = GetUsageResponse.newBuilder();
            for (LedgerViews.UsageRecord u : page) {
                b.addRecords(UsageRecord.newBuilder().setJobId(u.jobId()).setAccountId(u.accountId()).setModel(u.model())
                        .setNodeId(u.nodeId()).setUsage(Usage.newBuilder().setPromptTokens((int) u.promptTokens())
                                .setCompletionTokens((int) u.completionTokens()).setGpuMicros(u.gpuMicros()).setCostMicroUsd(u.cost()))
                        .setFinishReason(finishReason(u.finishReason())).setBookedAt(Protos.timestamp(u.bookedAt())));
            }
            if (page.size() == size) {
                b.setNextPageToken(Ledger.pageTokenAfter(page.get(page.size() - 1)));
            }
            return b.build();
        });
    }

    private static FinishReason finishReason(String s) {
        try {
            return FinishReason.valueOf("FINISH_REASON_" + s.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return FinishReason.FINISH_REASON_UNSPECIFIED;
        }
    }

}
