package io.diem.gateway.api;

import io.diem.gateway.nodes.Node;
import io.diem.gateway.nodes.NodeLink;
import io.diem.v1.ExecuteRequest;
import io.diem.v1.ExecuteResponse;
import io.diem.v1.NodeAgentGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * {@link NodeLink} over gRPC: one long-lived channel per node endpoint (plaintext: loopback and
 * trusted networks only until TLS lands), a blocking {@code NodeAgent/Execute} stream per job. The
 * call is made in the caller's gRPC context, so the caller's cancellation and deadline reach the node.
 */
public final class GrpcNodeLink implements NodeLink, AutoCloseable {

    private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();

    @Override
    public Iterator<ExecuteResponse> execute(Node node, ExecuteRequest request) {
        Iterator<ExecuteResponse> stream;
        try {
            stream = NodeAgentGrpc.newBlockingStub(channel(node.endpoint())).execute(request);
        } catch (StatusRuntimeException e) {
            throw failure(e);
        }
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                try {
                    return stream.hasNext();
                } catch (StatusRuntimeException e) {
                    throw failure(e);
                }
            }

            @Override
            public ExecuteResponse next() {
                try {
                    return stream.next();
                } catch (StatusRuntimeException e) {
                    throw failure(e);
                }
            }
        };
    }

    private static NodeFailure failure(StatusRuntimeException e) {
        Status.Code code = e.getStatus().getCode();
        NodeFailure.Cause cause = switch (code) {
            case CANCELLED -> NodeFailure.Cause.CANCELLED;
            case DEADLINE_EXCEEDED -> NodeFailure.Cause.DEADLINE_EXCEEDED;
            case INVALID_ARGUMENT -> NodeFailure.Cause.INVALID_REQUEST;
            default -> NodeFailure.Cause.NODE_FAILED;
        };
        return new NodeFailure(cause, code.name(), e.getStatus().getDescription());
    }

    private ManagedChannel channel(String endpoint) {
        return channels.computeIfAbsent(endpoint, e -> Grpc.newChannelBuilder(e, InsecureChannelCredentials.create())
                .maxInboundMessageSize(8 << 20).build());
    }

    @Override
    public void close() throws InterruptedException {
        for (ManagedChannel c : channels.values()) {
            c.shutdown();
        }
        for (ManagedChannel c : channels.values()) {
            if (!c.awaitTermination(5, TimeUnit.SECONDS)) {
                c.shutdownNow();
            }
        }
    }
}
