package io.diem.gateway.api;

import io.diem.gateway.call.Dispatcher;
import io.diem.gateway.call.GenerateCalls;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerViews;
import io.diem.gateway.nodes.NodePicker;
import io.diem.v1.Balance;
import io.diem.v1.ExecuteSummary;
import io.diem.v1.FinishReason;
import io.diem.v1.GenerateFinal;
import io.diem.v1.GenerateRequest;
import io.diem.v1.GenerateResponse;
import io.diem.v1.GetBalanceRequest;
import io.diem.v1.GetUsageRequest;
import io.diem.v1.GetUsageResponse;
import io.diem.v1.InferenceGrpc;
import io.diem.v1.ListModelsRequest;
import io.diem.v1.ListModelsResponse;
import io.diem.v1.ModelInfo;
import io.diem.v1.TokenDelta;
import io.diem.v1.Usage;
import io.diem.v1.UsageRecord;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Locale;

/**
 * {@code diem.v1.Inference} over gRPC: {@code Generate} runs the call path shared with the HTTP API
 * ({@link GenerateCalls}), then sends the final message with usage and the balance after;
 * the other methods read the caller's models, balance and usage.
 */
public final class InferenceService extends InferenceGrpc.InferenceImplBase {

    private final Ledger ledger;
    private final NodePicker picker;
    private final GenerateCalls calls;

    public InferenceService(Ledger ledger, NodePicker picker, GenerateCalls calls) {
        this.ledger = ledger;
        this.picker = picker;
        this.calls = calls;
    }

    @Override
    public void generate(GenerateRequest request, StreamObserver<GenerateResponse> responses) {
        ServerCallStreamObserver<GenerateResponse> call = (ServerCallStreamObserver<GenerateResponse>) responses;
        call.setOnCancelHandler(() -> {}); // cancellation reaches the node through the propagated context
        long start = System.nanoTime();
        try {
            Dispatcher.Completed done = calls.run(request, Caller.key(), start, new Dispatcher.Caller() {
                @Override
                public void send(TokenDelta delta) {
                    call.onNext(GenerateResponse.newBuilder().setDelta(delta).build());
                }

                @Override
                public boolean cancelled() {
                    return call.isCancelled();
                }
            });
            call.onNext(GenerateResponse.newBuilder().setFinal(finalMessage(done)).build());
            call.onCompleted();
        } catch (GatewayException | StatusRuntimeException e) {
            call.onError(GrpcErrors.toStatus(e));
        }
    }

    private static GenerateFinal finalMessage(Dispatcher.Completed done) {
        ExecuteSummary s = done.summary();
        Balance after = Protos.balance(done.balanceAfter());
        return GenerateFinal.newBuilder()
                .setFinishReason(s.getFinishReason())
                .setUsage(Usage.newBuilder().setPromptTokens(s.getPromptTokens()).setCompletionTokens(s.getCompletionTokens())
                        .setGpuMicros(s.getGpuMicros()).setCostMicroUsd(done.costMicroUsd()).setComputeKind(s.getComputeKind()))
                .setJobId(done.jobId()).setNodeId(done.nodeId()).setBalanceAfter(after).build();
    }

    @Override
    public void listModels(ListModelsRequest request, StreamObserver<ListModelsResponse> responses) {
        GrpcErrors.unary(responses, () -> {
            Caller.key();
            ListModelsResponse.Builder b = ListModelsResponse.newBuilder();
            picker.availableModels().forEach((name, m) -> ledger.price(name).ifPresent(p -> b.addModels(ModelInfo.newBuilder()
                    .setName(name).setContextLength(m.contextLength()).setNodes(m.nodes()).setPrice(Protos.price(p)))));
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
            int size = AdminService.pageSize(request.getPageSize());
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
            return FinishReason.valueOf("FINISH_REASON_" + s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return FinishReason.FINISH_REASON_UNSPECIFIED;
        }
    }
}
