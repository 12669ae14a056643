package io.diem.gateway.nodes;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.diem.gateway.store.Db;
import io.diem.gateway.store.Tx;
import io.diem.sign.NodeKey;
import io.diem.sign.SignedEnvelopes;
import io.diem.v1.GatewayMessage;
import io.diem.v1.HeartbeatPayload;
import io.diem.v1.RegisterPayload;
import io.diem.v1.ServedModel;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Back-pressure from booking: a node whose receipts pile up unbooked gets no new job until they are booked. */
class NodePickerTest {

    @TempDir
    Path dir;
    Db db;

    @AfterEach
    void close() {
        db.close();
    }

    @Test
    void aNodeWithTooManyUnbookedReceiptsTakesNoNewJobUntilBookingCatchesUp() {
        db = Db.open(Db.h2Url(dir), 4);
        Clock clock = Clock.systemUTC();
        NodeDirectory nodes = new NodeDirectory(new Tx(db), clock, Duration.ofSeconds(5), Duration.ofSeconds(15));
        NodeSessions sessions = new NodeSessions(nodes, clock);
        NodePicker picker = new NodePicker(nodes, sessions);
        NodeKey a = connect(nodes, sessions);
        NodeKey b = connect(nodes, sessions);
        heartbeat(nodes, a, 10);
        heartbeat(nodes, b, NodePicker.MAX_UNBOOKED_RECEIPTS + 1);
        assertThat(picker.pick("tiny", Set.of())).map(Node::nodeId).contains(a.nodeId());
        assertThat(picker.pick("tiny", Set.of(a.nodeId()))).isEmpty(); // b is behind on booking
        assertThat(picker.allBacklogged("tiny")).isFalse();
        heartbeat(nodes, a, NodePicker.MAX_UNBOOKED_RECEIPTS + 1);
        assertThat(picker.allBacklogged("tiny")).isTrue();
        assertThat(picker.pick("tiny", Set.of())).isEmpty();
        heartbeat(nodes, b, NodePicker.MAX_UNBOOKED_RECEIPTS); // caught up to the bound: takes jobs again
        assertThat(picker.pick("tiny", Set.of())).map(Node::nodeId).contains(b.nodeId());
        assertThat(picker.allBacklogged("tiny")).isFalse();
    }

    private static NodeKey connect(NodeDirectory nodes, NodeSessions sessions) {
        NodeKey key = NodeKey.generate();
        NodeSession session = sessions.open(new NodeSession.Sender() {
            @Override
            public void send(GatewayMessage message) {}

            @Override
            public void end() {}
        }, "peer");
        sessions.register(session, SignedEnvelopes.seal(key, RegisterPayload.newBuilder().setNodeId(key.nodeId())
                .setPublicKey(ByteString.copyFrom(key.rawPublicKey())).setChallenge(ByteString.copyFrom(session.nonce()))
                .addModels(ServedModel.newBuilder().setName("tiny").setContextLength(256))
                .setSignedAtUnixMicros(System.currentTimeMillis() * 1000).build()));
        nodes.approve(key.nodeId());
        return key;
    }

    private static void heartbeat(NodeDirectory nodes, NodeKey key, int unbooked) {
        nodes.heartbeat(SignedEnvelopes.seal(key, HeartbeatPayload.newBuilder().setNodeId(key.nodeId()).setReceiptsUnbooked(unbooked)
                .setSignedAtUnixMicros(System.currentTimeMillis() * 1000).build()));
    }
}
