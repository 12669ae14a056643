package io.diem.gateway.api;

import com.google.protobuf.ByteString;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.nodes.Node;
import io.diem.gateway.nodes.NodeDirectory;
import io.diem.gateway.nodes.NodeSession;
import io.diem.gateway.nodes.NodeSessions;
import io.diem.gateway.nodes.TicketKeys;
import io.diem.gateway.usage.ReceiptBooking;
import io.diem.sign.TicketKey;
import io.diem.v1.Challenge;
import io.diem.v1.GatewayMessage;
import io.diem.v1.HeartbeatResponse;
import io.diem.v1.NodeMessage;
import io.diem.v1.NodeRegistryGrpc;
import io.diem.v1.RegisterResponse;
import io.diem.v1.ReportUsageRequest;
import io.diem.v1.SignedEnvelope;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.logging.Logger;

/**
 * {@code diem.v1.NodeRegistry/Connect}: the agent-opened session of one node. The gateway sends a
 * fresh challenge first; the only message accepted before the node answers it with a signed
 * registration is that registration, and any other (or a registration that fails) closes the session
 * with UNAUTHENTICATED having changed nothing. Afterwards the session carries the node's heartbeats,
 * receipt batches and job events, each checked to be the session's own node's. Receipt batches are
 * booked off the stream's thread, in order per session ({@code booking} executor): the ledger may be
 * slow, but a node's heartbeats and its jobs' token streams never wait behind its bookings.
 */
public final class NodeSessionService extends NodeRegistryGrpc.NodeRegistryImplBase {

    private static final Logger LOG = Logger.getLogger(NodeSessionService.class.getName());
    /** How long booking waits for the dispatcher to record a finished relay (a DB write) before it books anyway. */
    private static final long RELAY_RECORD_WAIT_NANOS = 5_000_000_000L;

    private final NodeSessions sessions;
    private final NodeDirectory nodes;
    private final TicketKeys ticketKeys;
    private final ReceiptBooking booking;
    private final java.util.concurrent.Executor bookingThreads;
    /**
     * Usage messages one session may have waiting for booking. The agent sends one and waits for its answer;
     * a session that piles up more is closed (RESOURCE_EXHAUSTED), and its node resends on the next session.
     */
    static final int MAX_QUEUED_USAGE = 4;

    /** @param bookingThreads where receipt batches are booked (shared by all sessions; each session's in order) */
    public NodeSessionService(NodeSessions sessions, NodeDirectory nodes, TicketKeys ticketKeys, ReceiptBooking booking,
            java.util.concurrent.Executor bookingThreads) {
        this.sessions = sessions;
        this.nodes = nodes;
        this.ticketKeys = ticketKeys;
        this.booking = booking;
        this.bookingThreads = bookingThreads;
    }

    @Override
    public StreamObserver<NodeMessage> connect(StreamObserver<GatewayMessage> responses) {
        ServerCallStreamObserver<GatewayMessage> call = (ServerCallStreamObserver<GatewayMessage>) responses;
        StreamSender out = new StreamSender(call);
        NodeSession session = sessions.open(out, PEER.get() == null ? "" : PEER.get());
        call.setOnCancelHandler(() -> sessions.closed(session));
        session.send(GatewayMessage.newBuilder().setChallenge(Challenge.newBuilder()
                .setNonce(ByteString.copyFrom(session.nonce()))).build());
        UsageQueue usage = new UsageQueue(session, out);
        return new StreamObserver<>() {
            @Override
            public void onNext(NodeMessage message) {
                if (out.ended()) {
                    return;
                }
                try {
                    handle(session, message, usage);
                } catch (GatewayException | StatusRuntimeException | IllegalArgumentException e) {
                    sessions.closed(session);
                    out.fail(GrpcErrors.toStatus(e));
                }
            }

            @Override
            public void onError(Throwable t) {
                sessions.closed(session);
            }

            @Override
            public void onCompleted() {
                sessions.closed(session);
                out.end();
            }
        };
    }

    /** The gateway's half of a session stream: writes serialised, and nothing after the stream ended. */
    private static final class StreamSender implements NodeSession.Sender {
        private final ServerCallStreamObserver<GatewayMessage> call;
        private boolean ended;

        StreamSender(ServerCallStreamObserver<GatewayMessage> call) {
            this.call = call;
        }

        synchronized boolean ended() {
            return ended || call.isCancelled();
        }

        @Override
        public synchronized void send(GatewayMessage message) {
            if (!ended()) {
                call.onNext(message);
            }
        }

        @Override
        public synchronized void end() {
            if (!ended()) {
                ended = true;
                call.onCompleted();
            }
        }

        synchronized void fail(StatusRuntimeException status) {
            if (!ended()) {
                ended = true;
                call.onError(status);
            }
        }
    }

    /** One session's usage messages, booked one after another on the booking threads. */
    private final class UsageQueue {
        private final NodeSession session;
        private final StreamSender out;
        private java.util.concurrent.CompletableFuture<Void> tail = java.util.concurrent.CompletableFuture.completedFuture(null);
        private int queued;

        UsageQueue(NodeSession session, StreamSender out) {
            this.session = session;
            this.out = out;
        }

        synchronized void add(ReportUsageRequest usage) {
            if (queued >= MAX_QUEUED_USAGE) {
                throw Status.RESOURCE_EXHAUSTED.withDescription(queued + " usage messages of this session already wait for "
                        + "booking; send one at a time and wait for its answer").asRuntimeException();
            }
            queued++;
            tail = tail.thenRunAsync(() -> book(usage), bookingThreads);
        }

        private void book(ReportUsageRequest usage) {
            try {
                if (out.ended()) {
                    return;
                }
                // Receipts follow their jobs' last events on this stream: book them against the relay records.
                int late = session.awaitRelayRecords(RELAY_RECORD_WAIT_NANOS);
                if (late > 0) {
                    LOG.warning("node " + session.nodeId() + ": booking receipts before " + late + " relay records were written");
                }
                session.send(GatewayMessage.newBuilder().setUsage(booking.report(usage)).build());
            } catch (GatewayException | StatusRuntimeException | IllegalArgumentException e) {
                sessions.closed(session);
                out.fail(GrpcErrors.toStatus(e));
            } catch (RuntimeException e) {
                LOG.log(java.util.logging.Level.WARNING, "booking usage of node " + session.nodeId() + " failed; the agent resends", e);
            } finally {
                synchronized (this) {
                    queued--;
                }
            }
        }
    }

    private void handle(NodeSession session, NodeMessage message, UsageQueue queue) {
        if (!session.authenticated() && message.getBodyCase() != NodeMessage.BodyCase.REGISTER) {
            throw Status.UNAUTHENTICATED.withDescription("register first: answer the session's challenge with a registration "
                    + "signed by the node key").asRuntimeException();
        }
        switch (message.getBodyCase()) {
            case REGISTER -> {
                Node node = sessions.register(session, message.getRegister());
                TicketKey key = ticketKeys.forNode(node.nodeId());
                session.send(GatewayMessage.newBuilder().setRegistered(RegisterResponse.newBuilder()
                        .setState(nodes.state(node))
                        .setTicketKey(ByteString.copyFrom(key.secretBytes()))
                        .setTicketKeyId(key.keyId())
                        .setHeartbeatIntervalSeconds((int) Math.max(1, nodes.heartbeatInterval().toSeconds()))
                        .setAcknowledgedSequence(node.ackedSequence())
                        .setAcknowledgedBatchHash(ByteString.copyFrom(node.ackedHash()))).build());
                LOG.info("node " + node.nodeId() + " connected from " + session.peer());
            }
            case HEARTBEAT -> {
                requireOwn(session, message.getHeartbeat());
                Node node = nodes.heartbeat(message.getHeartbeat());
                session.send(GatewayMessage.newBuilder().setHeartbeat(HeartbeatResponse.newBuilder().setState(nodes.state(node))
                        .setAcknowledgedSequence(node.ackedSequence())).build());
            }
            case USAGE -> {
                ReportUsageRequest usage = message.getUsage();
                for (SignedEnvelope batch : usage.getBatchesList()) {
                    requireOwn(session, batch); // refused at once, on the stream: the session closes
                }
                queue.add(usage);
            }
            case JOB_EVENT -> session.deliver(message.getJobEvent());
            default -> throw Status.INVALID_ARGUMENT.withDescription("empty session message").asRuntimeException();
        }
    }

    /** Only the session's own node may send its heartbeats and batches on it. */
    private static void requireOwn(NodeSession session, SignedEnvelope envelope) {
        if (!envelope.getKeyId().equals(session.nodeId())) {
            throw Status.PERMISSION_DENIED.withDescription("this session belongs to node " + session.nodeId()
                    + "; it cannot carry messages of " + envelope.getKeyId()).asRuntimeException();
        }
    }

    /** The remote address of the call, for the node directory (informational: where the node connected from). */
    static final Context.Key<String> PEER = Context.key("diem-peer-address");

    /** Puts the transport's remote address into {@link #PEER} for the session handler. */
    public static ServerInterceptor peerAddress() {
        return new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
                Object remote = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
                String address = remote == null ? "" : remote.toString().replaceFirst("^/", "");
                return Contexts.interceptCall(Context.current().withValue(PEER, address), call, headers, next);
            }
        };
    }
}
