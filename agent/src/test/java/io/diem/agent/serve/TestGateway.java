package io.diem.agent.serve;

import com.google.protobuf.ByteString;
import io.diem.sign.Ed25519;
import io.diem.sign.NodeKey;
import io.diem.sign.ReceiptChain;
import io.diem.sign.SignedEnvelopes;
import io.diem.sign.TicketKey;
import io.diem.sign.TicketMinter;
import io.diem.sign.TicketVerifier;
import io.diem.sign.VerificationException;
import io.diem.v1.Challenge;
import io.diem.v1.ExecuteRequest;
import io.diem.v1.GatewayMessage;
import io.diem.v1.HeartbeatPayload;
import io.diem.v1.HeartbeatResponse;
import io.diem.v1.JobCancel;
import io.diem.v1.JobEvent;
import io.diem.v1.JobTicket;
import io.diem.v1.NodeMessage;
import io.diem.v1.NodeRegistryGrpc;
import io.diem.v1.NodeState;
import io.diem.v1.ReceiptBatch;
import io.diem.v1.RegisterPayload;
import io.diem.v1.RegisterResponse;
import io.diem.v1.ReportUsageRequest;
import io.diem.v1.ReportUsageResponse;
import io.diem.v1.SignedEnvelope;
import io.diem.v1.SignedTicket;
import io.diem.v1.UsageReceipt;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The gateway's side of a node session, as a test plays it: challenges, verifies the signed
 * registration (with this session's nonce), hands out the node's ticket key, mints tickets, sends
 * jobs over the session, and accepts receipt batches strictly in chain order, recording every
 * receipt it accepts (so tests can check each arrived exactly once).
 */
final class TestGateway extends NodeRegistryGrpc.NodeRegistryImplBase implements AutoCloseable {

    final byte[] secret = "test gateway ticket-key secret!!".getBytes();
    final Map<String, PublicKey> nodes = new ConcurrentHashMap<>();
    final Map<String, ReceiptChain> chains = new ConcurrentHashMap<>();
    final List<UsageReceipt> accepted = java.util.Collections.synchronizedList(new ArrayList<>());
    final List<String> problems = java.util.Collections.synchronizedList(new ArrayList<>());
    /** While false, every new session is refused UNAVAILABLE (the gateway is away) and counted in {@link #refusedWhileAway}. */
    volatile boolean available = true;
    final AtomicInteger refusedWhileAway = new AtomicInteger();
    private final Map<String, Session> sessions = new ConcurrentHashMap<>();
    private final Server server;

    TestGateway(int port) throws IOException {
        server = Grpc.newServerBuilderForPort(port, InsecureServerCredentials.create()).addService(this).build().start();
    }

    int port() {
        return server.getPort();
    }

    TicketKey keyFor(String nodeId) {
        return TicketKey.derive(secret, "k1", nodeId);
    }

    SignedTicket ticket(String nodeId, String jobId, String model, int maxPrompt, int maxCompletion, long gpuMicros) {
        long now = TicketVerifier.micros(Instant.now());
        return TicketMinter.mint(keyFor(nodeId), JobTicket.newBuilder().setJobId(jobId).setNodeId(nodeId).setAccountRef("acct-test")
                .setModel(model).setMaxPromptTokens(maxPrompt).setMaxCompletionTokens(maxCompletion).setGpuMicrosLimit(gpuMicros)
                .setIssuedAtUnixMicros(now).setExpiresAtUnixMicros(now + 60_000_000L).build());
    }

    long receiptsFor(String jobId) {
        synchronized (accepted) {
            return accepted.stream().filter(r -> r.getJobId().equals(jobId)).count();
        }
    }

    boolean connected(String nodeId) {
        return sessions.containsKey(nodeId);
    }

    /** The gateway goes away: it ends every session and refuses new ones until {@link #available} is true again. */
    void goAway() {
        available = false;
        for (Session s : sessions.values()) {
            s.end(Status.UNAVAILABLE.withDescription("test gateway went away"));
        }
    }

    /** Sends a job over the node's session; its events arrive on the returned queue. */
    BlockingQueue<JobEvent> start(String nodeId, ExecuteRequest request) {
        Session s = sessions.get(nodeId);
        if (s == null) {
            throw new IllegalStateException("node " + nodeId + " has no session");
        }
        BlockingQueue<JobEvent> events = new LinkedBlockingQueue<>();
        s.jobs.put(JobTicketId.of(request), events);
        s.send(GatewayMessage.newBuilder().setJob(request).build());
        return events;
    }

    /** Sends a job over the node's session and returns its events: deltas, then the summary or the error. */
    List<JobEvent> run(String nodeId, ExecuteRequest request, long timeoutSeconds) throws InterruptedException {
        String jobId = JobTicketId.of(request);
        BlockingQueue<JobEvent> events = start(nodeId, request);
        Session s = sessions.get(nodeId);
        List<JobEvent> out = new ArrayList<>();
        while (true) {
            JobEvent e = events.poll(timeoutSeconds, TimeUnit.SECONDS);
            if (e == null) {
                throw new IllegalStateException("job " + jobId + " sent no event for " + timeoutSeconds + " s");
            }
            out.add(e);
            if (e.hasSummary() || e.hasError()) {
                if (s != null) {
                    s.jobs.remove(jobId);
                }
                return out;
            }
        }
    }

    /** Tells the node to stop a job it runs for this gateway. */
    void cancel(String nodeId, String jobId) {
        Session s = sessions.get(nodeId);
        s.send(GatewayMessage.newBuilder().setCancel(JobCancel.newBuilder().setJobId(jobId)).build());
        s.jobs.remove(jobId);
    }

    @Override
    public StreamObserver<NodeMessage> connect(StreamObserver<GatewayMessage> responses) {
        if (!available) {
            refusedWhileAway.incrementAndGet();
            responses.onError(Status.UNAVAILABLE.withDescription("test gateway is down").asRuntimeException());
            return new StreamObserver<>() {
                @Override public void onNext(NodeMessage value) {}
                @Override public void onError(Throwable t) {}
                @Override public void onCompleted() {}
            };
        }
        Session session = new Session(responses);
        session.send(GatewayMessage.newBuilder().setChallenge(Challenge.newBuilder().setNonce(ByteString.copyFrom(session.nonce)))
                .build());
        return session;
    }

    /** One node's session. */
    private final class Session implements StreamObserver<NodeMessage> {
        final StreamObserver<GatewayMessage> out;
        final byte[] nonce = new byte[32];
        final Map<String, BlockingQueue<JobEvent>> jobs = new ConcurrentHashMap<>();
        volatile String nodeId;
        boolean ended;

        Session(StreamObserver<GatewayMessage> out) {
            this.out = out;
            new SecureRandom().nextBytes(nonce);
        }

        synchronized void send(GatewayMessage m) {
            if (!ended) {
                out.onNext(m);
            }
        }

        synchronized void end(Status status) {
            if (!ended) {
                ended = true;
                if (nodeId != null) {
                    sessions.remove(nodeId, this);
                }
                out.onError(status.asRuntimeException());
            }
        }

        @Override
        public void onNext(NodeMessage m) {
            try {
                switch (m.getBodyCase()) {
                    case REGISTER -> register(m.getRegister());
                    case HEARTBEAT -> {
                        SignedEnvelopes.open(m.getHeartbeat(), nodeId, nodes.get(nodeId), HeartbeatPayload.parser());
                        send(GatewayMessage.newBuilder().setHeartbeat(HeartbeatResponse.newBuilder()
                                .setState(NodeState.NODE_STATE_HEALTHY).setAcknowledgedSequence(chains.get(nodeId).lastSequence()))
                                .build());
                    }
                    case USAGE -> send(GatewayMessage.newBuilder().setUsage(book(m.getUsage())).build());
                    case JOB_EVENT -> {
                        BlockingQueue<JobEvent> q = jobs.get(m.getJobEvent().getJobId());
                        if (q != null) {
                            q.add(m.getJobEvent());
                        }
                    }
                    default -> problems.add("empty session message");
                }
            } catch (VerificationException | RuntimeException e) {
                problems.add(m.getBodyCase() + ": " + e.getMessage());
                end(Status.UNAUTHENTICATED.withDescription(e.getMessage()));
            }
        }

        private void register(SignedEnvelope envelope) throws VerificationException {
            RegisterPayload p;
            try {
                p = RegisterPayload.parseFrom(envelope.getPayload());
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                throw new VerificationException(VerificationException.Reason.MALFORMED, e.getMessage());
            }
            PublicKey key = Ed25519.publicKey(p.getPublicKey().toByteArray());
            if (!NodeKey.nodeIdOf(p.getPublicKey().toByteArray()).equals(p.getNodeId())) {
                throw new VerificationException(VerificationException.Reason.WRONG_KEY, "node id does not match key");
            }
            SignedEnvelopes.open(envelope, p.getNodeId(), key, RegisterPayload.parser());
            if (!Arrays.equals(p.getChallenge().toByteArray(), nonce)) {
                throw new VerificationException(VerificationException.Reason.BAD_SIGNATURE, "registration does not carry this session's challenge");
            }
            nodeId = p.getNodeId();
            nodes.put(nodeId, key);
            ReceiptChain chain = chains.computeIfAbsent(nodeId, id -> ReceiptChain.empty());
            sessions.put(nodeId, this);
            send(GatewayMessage.newBuilder().setRegistered(RegisterResponse.newBuilder().setState(NodeState.NODE_STATE_HEALTHY)
                    .setTicketKey(ByteString.copyFrom(keyFor(nodeId).secretBytes())).setTicketKeyId("k1")
                    .setHeartbeatIntervalSeconds(1).setAcknowledgedSequence(chain.lastSequence())
                    .setAcknowledgedBatchHash(ByteString.copyFrom(chain.lastHash()))).build());
        }

        private ReportUsageResponse book(ReportUsageRequest request) {
            synchronized (TestGateway.this) {
                ReceiptChain chain = chains.get(nodeId);
                for (SignedEnvelope e : request.getBatchesList()) {
                    try {
                        ReceiptBatch batch = chain.accept(e, nodeId, nodes.get(nodeId));
                        accepted.addAll(batch.getReceiptsList());
                    } catch (VerificationException ex) {
                        if (ex.reason() != VerificationException.Reason.SEQUENCE_REPLAYED) {
                            problems.add(ex.reason() + ": " + ex.getMessage());
                            break;
                        }
                        // a resend of a batch already booked: acknowledged again, booked once
                    }
                }
                return ReportUsageResponse.newBuilder().setAcknowledgedSequence(chain.lastSequence()).build();
            }
        }

        @Override
        public void onError(Throwable t) {
            closed();
        }

        @Override
        public void onCompleted() {
            closed();
            synchronized (this) {
                if (!ended) {
                    ended = true;
                    out.onCompleted();
                }
            }
        }

        private void closed() {
            if (nodeId != null) {
                sessions.remove(nodeId, this);
            }
        }
    }

    /** The job id inside a request's ticket. */
    private static final class JobTicketId {
        static String of(ExecuteRequest r) {
            try {
                return JobTicket.parseFrom(r.getTicket().getTicket()).getJobId();
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                throw new IllegalArgumentException(e);
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
    }
}
