package io.diem.gateway.dispatch;

import io.diem.gateway.usage.ReceiptBooking;
import io.diem.v1.HeartbeatResponse;
import io.diem.v1.NodeRegistryGrpc;
import io.diem.v1.RegisterResponse;
import io.diem.v1.ReportUsageRequest;
import io.diem.v1.ReportUsageResponse;
import io.diem.v1.SignedEnvelope;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.util.function.Supplier;

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
        answer(responses, () -> {
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
        answer(responses, () -> {
            NodeRegistry.Node node = registry.heartbeat(request);
            return HeartbeatResponse.newBuilder().setState(registry.state(node)).setAcknowledgedSequence(node.ackedSequence()).build();
        });
    }

    @Override
    public void reportUsage(ReportUsageRequest request, StreamObserver<ReportUsageResponse> responses) {
        answer(responses, () -> booking.report(request));
    }

    private static <T> void answer(StreamObserver<T> responses, Supplier<T> body) {
        T value;
        try {
            value = body.get();
        } catch (StatusRuntimeException e) {
            responses.onError(e);
            return;
        } catch (io.diem.gateway.ledger.LedgerException e) {
            responses.onError(io.diem.gateway.api.GrpcErrors.status(e).asRuntimeException());
            return;
        } catch (IllegalArgumentException e) {
            responses.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
            return;
        }
        responses.onNext(value);
        responses.onCompleted();
    }
}
