package io.diem.agent.serve;

import io.diem.agent.model.Model;
import io.diem.v1.CancelRequest;
import io.diem.v1.CancelResponse;
import io.diem.v1.DescribeRequest;
import io.diem.v1.DescribeResponse;
import io.diem.v1.ExecuteRequest;
import io.diem.v1.ExecuteResponse;
import io.diem.v1.NodeAgentGrpc;
import io.diem.v1.ServedModel;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Map;

/**
 * {@code diem.v1.NodeAgent}, the node's local API on loopback: runs a ticketed job through the same
 * {@link JobRunner} the gateway's session uses, cancels jobs, describes the node.
 */
public final class NodeAgentService extends NodeAgentGrpc.NodeAgentImplBase {

    private final String nodeId;
    private final JobRunner runner;
    private final Map<String, Model> models;
    private final Devices devices;
    private final String agentVersion;

    public NodeAgentService(String nodeId, JobRunner runner, Map<String, Model> models, Devices devices, String agentVersion) {
        this.nodeId = nodeId;
        this.runner = runner;
        this.models = models;
        this.devices = devices;
        this.agentVersion = agentVersion;
    }

    @Override
    public void execute(ExecuteRequest request, StreamObserver<ExecuteResponse> responses) {
        ServerCallStreamObserver<ExecuteResponse> call = (ServerCallStreamObserver<ExecuteResponse>) responses;
        runner.run(request, new JobStream() {
            @Override
            public void send(ExecuteResponse event) {
                call.onNext(event);
            }

            @Override
            public void complete() {
                call.onCompleted();
            }

            @Override
            public void fail(StatusRuntimeException status) {
                if (!call.isCancelled()) {
                    call.onError(status);
                }
            }

            @Override
            public boolean isCancelled() {
                return call.isCancelled();
            }

            @Override
            public void onCancel(Runnable onCancel) {
                call.setOnCancelHandler(onCancel);
            }
        });
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
                .setAgentVersion(agentVersion)
                .setKvBlocksTotal(devices.schedulers().stream().mapToLong(JobScheduler::kvBlocksTotal).sum())
                .setKvBlocksUsed(devices.schedulers().stream().mapToLong(JobScheduler::kvBlocksUsed).sum())
                .setKvBlockTokens(devices.schedulers().get(0).engine().kvBlockTokens());
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
                .setChatFixedTokens(m.tokenizer().chatBound().fixedTokens())
                .setChatTokensPerMessage(m.tokenizer().chatBound().tokensPerMessage())
                .build();
    }
}
