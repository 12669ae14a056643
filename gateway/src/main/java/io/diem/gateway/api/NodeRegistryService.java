package io.diem.gateway.api;

import static io.diem.gateway.api.GrpcErrors.unary;

import com.google.protobuf.ByteString;
import io.diem.gateway.nodes.Node;
import io.diem.gateway.nodes.NodeDirectory;
import io.diem.gateway.nodes.TicketKeys;
import io.diem.gateway.usage.ReceiptBooking;
import io.diem.sign.TicketKey;
import io.diem.v1.HeartbeatResponse;
import io.diem.v1.NodeRegistryGrpc;
import io.diem.v1.RegisterResponse;
import io.diem.v1.ReportUsageRequest;
import io.diem.v1.ReportUsageResponse;
import io.diem.v1.SignedEnvelope;
import io.grpc.stub.StreamObserver;

/** {@code diem.v1.NodeRegistry}: agents register, heartbeat and report usage, all signed by their node key. */
public final class NodeRegistryService extends NodeRegistryGrpc.NodeRegistryImplBase {

    private final NodeDirectory nodes;
    private final TicketKeys ticketKeys;
    private final ReceiptBooking booking;

    public NodeRegistryService(NodeDirectory nodes, TicketKeys ticketKeys, ReceiptBooking booking) {
        this.nodes = nodes;
        this.ticketKeys = ticketKeys;
        this.booking = booking;
    }

    @Override
    public void register(SignedEnvelope request, StreamObserver<RegisterResponse> responses) {
        unary(responses, () -> {
            Node node = nodes.register(request);
            TicketKey key = ticketKeys.forNode(node.nodeId());
            return RegisterResponse.newBuilder()
                    .setState(nodes.state(node))
                    .setTicketKey(ByteString.copyFrom(key.secretBytes()))
                    .setTicketKeyId(key.keyId())
                    .setHeartbeatIntervalSeconds((int) Math.max(1, nodes.heartbeatInterval().toSeconds()))
                    .setAcknowledgedSequence(node.ackedSequence())
                    .setAcknowledgedBatchHash(ByteString.copyFrom(node.ackedHash()))
                    .build();
        });
    }

    @Override
    public void heartbeat(SignedEnvelope request, StreamObserver<HeartbeatResponse> responses) {
        unary(responses, () -> {
            Node node = nodes.heartbeat(request);
            return HeartbeatResponse.newBuilder().setState(nodes.state(node)).setAcknowledgedSequence(node.ackedSequence()).build();
        });
    }

    @Override
    public void reportUsage(ReportUsageRequest request, StreamObserver<ReportUsageResponse> responses) {
        unary(responses, () -> booking.report(request));
    }
}
