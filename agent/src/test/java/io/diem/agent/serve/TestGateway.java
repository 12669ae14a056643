package io.diem.agent.serve;

import io.diem.sign.Ed25519;
import io.diem.sign.NodeKey;
import io.diem.sign.ReceiptChain;
import io.diem.sign.SignedEnvelopes;
import io.diem.sign.TicketKey;
import io.diem.sign.TicketMinter;
import io.diem.sign.TicketVerifier;
import io.diem.sign.VerificationException;
import io.diem.v1.HeartbeatPayload;
import io.diem.v1.HeartbeatResponse;
import io.diem.v1.JobTicket;
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
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The gateway's side of the node protocol, as a test plays it: verifies registrations, hands out the
 * node's ticket key, mints tickets, and accepts receipt batches strictly in chain order, recording
 * every receipt it accepts (so tests can check each arrived exactly once).
 */
final class TestGateway extends NodeRegistryGrpc.NodeRegistryImplBase implements AutoCloseable {

    final byte[] secret = "test gateway ticket-key secret!!".getBytes();
    final Map<String, PublicKey> nodes = new ConcurrentHashMap<>();
    final Map<String, ReceiptChain> chains = new ConcurrentHashMap<>();
    final List<UsageReceipt> accepted = java.util.Collections.synchronizedList(new ArrayList<>());
    final List<String> problems = java.util.Collections.synchronizedList(new ArrayList<>());
    /** While false, every call is refused UNAVAILABLE (the gateway is away) and counted in {@link #refusedWhileAway}. */
    volatile boolean available = true;
    final java.util.concurrent.atomic.AtomicInteger refusedWhileAway = new java.util.concurrent.atomic.AtomicInteger();
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

    @Override
    public void register(SignedEnvelope request, StreamObserver<RegisterResponse> responses) {
        if (!available) {
            refusedWhileAway.incrementAndGet();
            responses.onError(Status.UNAVAILABLE.withDescription("test gateway is down").asRuntimeException());
            return;
        }
        try {
            RegisterPayload p = RegisterPayload.parseFrom(request.getPayload());
            PublicKey key = Ed25519.publicKey(p.getPublicKey().toByteArray());
            if (!NodeKey.nodeIdOf(p.getPublicKey().toByteArray()).equals(p.getNodeId())) {
                throw new VerificationException(VerificationException.Reason.WRONG_KEY, "node id does not match key");
            }
            SignedEnvelopes.open(request, p.getNodeId(), key, RegisterPayload.parser());
            nodes.put(p.getNodeId(), key);
            ReceiptChain chain = chains.computeIfAbsent(p.getNodeId(), id -> ReceiptChain.empty());
            responses.onNext(RegisterResponse.newBuilder().setState(NodeState.NODE_STATE_HEALTHY)
                    .setTicketKey(com.google.protobuf.ByteString.copyFrom(keyFor(p.getNodeId()).secretBytes()))
                    .setTicketKeyId("k1").setHeartbeatIntervalSeconds(1).setAcknowledgedSequence(chain.lastSequence())
                    .setAcknowledgedBatchHash(com.google.protobuf.ByteString.copyFrom(chain.lastHash())).build());
            responses.onCompleted();
        } catch (Exception e) {
            responses.onError(Status.UNAUTHENTICATED.withDescription(e.getMessage()).asRuntimeException());
        }
    }

    @Override
    public void heartbeat(SignedEnvelope request, StreamObserver<HeartbeatResponse> responses) {
        if (!available) {
            refusedWhileAway.incrementAndGet();
            responses.onError(Status.UNAVAILABLE.withDescription("test gateway is down").asRuntimeException());
            return;
        }
        PublicKey key = nodes.get(request.getKeyId());
        if (key == null) {
            responses.onError(Status.NOT_FOUND.withDescription("unknown node").asRuntimeException());
            return;
        }
        try {
            SignedEnvelopes.open(request, request.getKeyId(), key, HeartbeatPayload.parser());
        } catch (VerificationException e) {
            responses.onError(Status.UNAUTHENTICATED.withDescription(e.getMessage()).asRuntimeException());
            return;
        }
        responses.onNext(HeartbeatResponse.newBuilder().setState(NodeState.NODE_STATE_HEALTHY)
                .setAcknowledgedSequence(chains.get(request.getKeyId()).lastSequence()).build());
        responses.onCompleted();
    }

    @Override
    public synchronized void reportUsage(ReportUsageRequest request, StreamObserver<ReportUsageResponse> responses) {
        if (!available) {
            refusedWhileAway.incrementAndGet();
            responses.onError(Status.UNAVAILABLE.withDescription("test gateway is down").asRuntimeException());
            return;
        }
        String nodeId = request.getBatchesCount() == 0 ? "" : request.getBatches(0).getKeyId();
        PublicKey key = nodes.get(nodeId);
        if (key == null) {
            responses.onError(Status.NOT_FOUND.withDescription("unknown node").asRuntimeException());
            return;
        }
        ReceiptChain chain = chains.get(nodeId);
        for (SignedEnvelope e : request.getBatchesList()) {
            try {
                ReceiptBatch batch = chain.accept(e, nodeId, key);
                accepted.addAll(batch.getReceiptsList());
            } catch (VerificationException ex) {
                if (ex.reason() != VerificationException.Reason.SEQUENCE_REPLAYED) {
                    problems.add(ex.reason() + ": " + ex.getMessage());
                    break;
                }
                // a resend of a batch already booked: acknowledged again, booked once
            }
        }
        responses.onNext(ReportUsageResponse.newBuilder().setAcknowledgedSequence(chain.lastSequence()).build());
        responses.onCompleted();
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
    }
}
