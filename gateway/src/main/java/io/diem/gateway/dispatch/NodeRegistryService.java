package io.diem.gateway.dispatch;

import static io.diem.gateway.api.GrpcErrors.unary;

import io.diem.gateway.usage.ReceiptBooking;
import io.diem.v1.HeartbeatResponse;
import io.diem.v1.NodeRegistryGrpc;
import io.diem.v1.RegisterResponse;
import io.diem.v1.ReportUsageRequest;
import io.diem.v1.ReportUsageResponse;
import io.diem.v1.SignedEnvelope;
import io.grpc.stub.StreamObserver;

/** {@code diem.v1.NodeRegistry}: agents register, heartbeat and report usage, all signed by their node key. */
public final class NodeRegistryService extends NodeRegistryGrpc.NodeRegistryImplBase {

    private final NodeRegistry registry;
    private final ReceiptBooking booking;

    public NodeRegistryService(NodeRegistry registry, ReceiptBooking booking) {
        this.registry = registry;
        this.booking = booking;
    }

    @Override
    public void register(SignedEnvelope request, StreamObserver<RegisterResponse> responses) {
        unary(responses, () -> {
            NodeRegistry.Node node = registry.register(request);
            return RegisterResponse.newBuilder()
                    .setState(registry.state(node))
                    .setTicketKey(com.google.protobuf.ByteString.copyFrom(registry.ticketKey(node.nodeId()).secretBytes()))
                    .setTicketKeyId(registry.ticketKey(node.nodeId()).keyId())
                    .setHeartbeatIntervalSeconds((int) Math.max(1, registry.heartbeatInterval().toSeconds()))
                    .setAcknowledgedSequence(node.ackedSequence())
                    .setAcknowledgedBatchHash(com.google.protobuf.ByteString.copyFrom(node.ackedHash()))
                    .build();
        });
    }

    @Override
    public void heartbeat(SignedEnvelope request, StreamObserver<HeartbeatResponse> responses) {
        unary(responses, () -> {
            NodeRegistry.Node node = registry.heartbeat(request);
            return HeartbeatResponse.newBuilder().setState(registry.state(node)).setAcknowledgedSequence(node.ackedSequence()).build();
        });
    }

    @Override
    public void reportUsage(ReportUsageRequest request, StreamObserver<ReportUsageResponse> responses) {
        unary(responses, () -> booking.report(request));
    }
}
