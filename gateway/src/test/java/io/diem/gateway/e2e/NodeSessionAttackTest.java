package io.diem.gateway.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.diem.gateway.nodes.Node;
import io.diem.sign.NodeKey;
import io.diem.sign.SignedEnvelopes;
import io.diem.v1.GatewayMessage;
import io.diem.v1.GenerateRequest;
import io.diem.v1.HeartbeatPayload;
import io.diem.v1.InferenceGrpc;
import io.diem.v1.JobEvent;
import io.diem.v1.NodeMessage;
import io.diem.v1.NodeRegistryGrpc;
import io.diem.v1.NodeState;
import io.diem.v1.ReceiptBatch;
import io.diem.v1.RegisterPayload;
import io.diem.v1.ReportUsageRequest;
import io.diem.v1.SamplingParams;
import io.diem.v1.SignedEnvelope;
import io.diem.v1.TokenDelta;
import io.diem.v1.UsageReceipt;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway's node port as an attacker sees it: anyone can open a session, node ids are public,
 * recordings can be replayed. Nothing of that may change any node's state; only a node's own key
 * makes evidence against it.
 */
class NodeSessionAttackTest {

    @TempDir
    java.nio.file.Path dir;
    LocalCluster cluster;
    String victim;

    @BeforeEach
    void start() throws Exception {
        cluster = new LocalCluster(dir, io.diem.gateway.store.Db.h2Url(dir.resolve("ledger")), Duration.ofMinutes(5), 3);
        cluster.startAgent("a1");
        victim = cluster.nodeIdOf("a1");
        cluster.approveWhenRegistered(victim);
        cluster.price(0, 1_000, 0);
    }

    @AfterEach
    void stop() throws Exception {
        cluster.close();
    }

    /** One raw session with the gateway: what it sent, and how it ended. */
    private final class RawSession {
        final BlockingQueue<GatewayMessage> received = new LinkedBlockingQueue<>();
        final CompletableFuture<Status> ended = new CompletableFuture<>();
        final StreamObserver<NodeMessage> out;

        RawSession() {
            out = NodeRegistryGrpc.newStub(cluster.channel).connect(new StreamObserver<>() {
                @Override
                public void onNext(GatewayMessage m) {
                    received.add(m);
                }

                @Override
                public void onError(Throwable t) {
                    ended.complete(Status.fromThrowable(t));
                }

                @Override
                public void onCompleted() {
                    ended.complete(Status.OK);
                }
            });
        }

        byte[] challenge() throws Exception {
            GatewayMessage first = received.poll(10, TimeUnit.SECONDS);
            assertThat(first).isNotNull();
            assertThat(first.hasChallenge()).isTrue();
            return first.getChallenge().getNonce().toByteArray();
        }

        Status sendAndAwaitEnd(NodeMessage m) throws Exception {
            out.onNext(m);
            return ended.get(10, TimeUnit.SECONDS);
        }
    }

    private static SignedEnvelope registration(NodeKey key, byte[] challenge) {
        return SignedEnvelopes.seal(key, RegisterPayload.newBuilder().setNodeId(key.nodeId())
                .setPublicKey(ByteString.copyFrom(key.rawPublicKey())).setChallenge(ByteString.copyFrom(challenge))
                .setAgentVersion("attacker").setSignedAtUnixMicros(micros()).build());
    }

    private static long micros() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000L + now.getNano() / 1000;
    }

    private static SignedEnvelope forged(String keyId) {
        return SignedEnvelope.newBuilder().setKeyId(keyId).setPayload(ByteString.copyFromUtf8("garbage"))
                .setSignature(ByteString.copyFrom(new byte[64])).build();
    }

    private void assertVictimUntouchedAndServing() {
        Node node = cluster.gateway.nodes().node(victim).orElseThrow();
        assertThat(node.flagReason()).isNull();
        assertThat(cluster.gateway.nodes().state(node)).isEqualTo(NodeState.NODE_STATE_HEALTHY);
        assertThat(cluster.gateway.picker().eligible()).extracting(Node::nodeId).contains(victim);
        String[] app = cluster.stakedAccount(10_000_000);
        var it = InferenceGrpc.newBlockingStub(cluster.as(app[1])).withDeadlineAfter(60, TimeUnit.SECONDS)
                .generate(GenerateRequest.newBuilder().setModel("tiny").setPrompt("hi")
                        .setSampling(SamplingParams.newBuilder().setMaxTokens(2)).build());
        boolean finished = false;
        while (it.hasNext()) {
            finished |= it.next().hasFinal();
        }
        assertThat(finished).isTrue();
    }

    @Test
    void nothingSentBeforeAnsweringTheChallengeChangesAnyNode() throws Exception {
        RawSession heartbeat = new RawSession();
        heartbeat.challenge();
        Status s1 = heartbeat.sendAndAwaitEnd(NodeMessage.newBuilder().setHeartbeat(forged(victim)).build());
        assertThat(s1.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(s1.getDescription()).contains("register first");

        RawSession usage = new RawSession();
        usage.challenge();
        Status s2 = usage.sendAndAwaitEnd(NodeMessage.newBuilder().setUsage(ReportUsageRequest.newBuilder().addBatches(forged(victim)))
                .build());
        assertThat(s2.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);

        RawSession event = new RawSession();
        event.challenge();
        Status s3 = event.sendAndAwaitEnd(NodeMessage.newBuilder().setJobEvent(JobEvent.newBuilder().setJobId("job-x")
                .setDelta(TokenDelta.newBuilder().setText("x"))).build());
        assertThat(s3.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);

        RawSession garbage = new RawSession();
        garbage.challenge();
        Status s4 = garbage.sendAndAwaitEnd(NodeMessage.newBuilder().setRegister(forged(victim)).build());
        assertThat(s4.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(s4.getDescription()).startsWith("registration refused");

        // The victim's public id with the attacker's key: the id does not derive from that key.
        NodeKey attacker = NodeKey.generate();
        RawSession impostor = new RawSession();
        byte[] nonce = impostor.challenge();
        RegisterPayload claim = RegisterPayload.newBuilder().setNodeId(victim).setPublicKey(ByteString.copyFrom(attacker.rawPublicKey()))
                .setChallenge(ByteString.copyFrom(nonce)).setSignedAtUnixMicros(micros()).build();
        Status s5 = impostor.sendAndAwaitEnd(NodeMessage.newBuilder().setRegister(SignedEnvelope.newBuilder().setKeyId(victim)
                .setPayload(claim.toByteString()).setSignature(ByteString.copyFrom(attacker.sign(claim.toByteArray())))).build());
        assertThat(s5.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(s5.getDescription()).contains("does not derive from its public key");

        assertThat(cluster.gateway.nodes().nodes()).extracting(Node::nodeId).containsExactly(victim);
        assertVictimUntouchedAndServing();
    }

    @Test
    void aRecordedRegistrationCannotOpenAnotherSession() throws Exception {
        NodeKey key = NodeKey.generate();
        RawSession first = new RawSession();
        SignedEnvelope recorded = registration(key, first.challenge());
        first.out.onNext(NodeMessage.newBuilder().setRegister(recorded).build());
        GatewayMessage registered = first.received.poll(10, TimeUnit.SECONDS);
        assertThat(registered).isNotNull();
        assertThat(registered.hasRegistered()).isTrue();

        RawSession replay = new RawSession();
        replay.challenge();
        Status s = replay.sendAndAwaitEnd(NodeMessage.newBuilder().setRegister(recorded).build());
        assertThat(s.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(s.getDescription()).contains("does not answer this session's challenge");

        // A second registration on the session that already answered its challenge is refused too.
        Status again = first.sendAndAwaitEnd(NodeMessage.newBuilder().setRegister(recorded).build());
        assertThat(again.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertVictimUntouchedAndServing();
    }

    @Test
    void batchesNotSignedByTheSessionsNodeAreRefusedWithoutFlaggingAnyone() throws Exception {
        NodeKey attacker = NodeKey.generate();
        RawSession session = new RawSession();
        session.out.onNext(NodeMessage.newBuilder().setRegister(registration(attacker, session.challenge())).build());
        assertThat(session.received.poll(10, TimeUnit.SECONDS).hasRegistered()).isTrue();

        // A batch claiming to be the victim's, signed by the attacker: refused, the victim untouched.
        ReceiptBatch claim = ReceiptBatch.newBuilder().setNodeId(victim).setSequence(1)
                .setPreviousHash(ByteString.copyFrom(new byte[32]))
                .addReceipts(UsageReceipt.newBuilder().setJobId("job-nope").setNodeId(victim)).build();
        SignedEnvelope asVictim = SignedEnvelope.newBuilder().setKeyId(victim).setPayload(claim.toByteString())
                .setSignature(ByteString.copyFrom(attacker.sign(claim.toByteArray()))).build();
        Status s = session.sendAndAwaitEnd(NodeMessage.newBuilder().setUsage(ReportUsageRequest.newBuilder().addBatches(asVictim)).build());
        assertThat(s.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(s.getDescription()).contains("this session belongs to node " + attacker.nodeId());

        // Its own id with a signature that does not verify: refused, and not evidence against anyone.
        RawSession second = new RawSession();
        second.out.onNext(NodeMessage.newBuilder().setRegister(registration(attacker, second.challenge())).build());
        assertThat(second.received.poll(10, TimeUnit.SECONDS).hasRegistered()).isTrue();
        second.out.onNext(NodeMessage.newBuilder().setUsage(ReportUsageRequest.newBuilder().addBatches(forged(attacker.nodeId())))
                .build());
        GatewayMessage answer = second.received.poll(10, TimeUnit.SECONDS);
        assertThat(answer).isNotNull();
        assertThat(answer.hasUsage()).isTrue();
        assertThat(answer.getUsage().getAcknowledgedSequence()).isZero();
        await().atMost(Duration.ofSeconds(5)).until(() -> cluster.gateway.nodes().node(attacker.nodeId()).isPresent());
        assertThat(cluster.gateway.nodes().node(attacker.nodeId()).orElseThrow().flagReason()).isNull();
        assertVictimUntouchedAndServing();
    }

    @Test
    void aSessionFloodingUsageMessagesIsClosedInsteadOfQueueingWithoutBound() throws Exception {
        NodeKey flooder = NodeKey.generate();
        RawSession session = new RawSession();
        session.out.onNext(NodeMessage.newBuilder().setRegister(registration(flooder, session.challenge())).build());
        assertThat(session.received.poll(10, TimeUnit.SECONDS).hasRegistered()).isTrue();
        NodeMessage usage = NodeMessage.newBuilder().setUsage(ReportUsageRequest.newBuilder().addBatches(forged(flooder.nodeId())))
                .build();
        for (int i = 0; i < 200; i++) { // our agent sends one and waits for its answer
            session.out.onNext(usage);
        }
        Status s = session.ended.get(20, TimeUnit.SECONDS);
        assertThat(s.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(s.getDescription()).contains("usage messages of this session already wait for booking");
        assertVictimUntouchedAndServing();
    }
}
