package io.diem.gateway.usage;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.diem.gateway.call.Jobs;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerConfig;
import io.diem.gateway.ledger.MutableClock;
import io.diem.gateway.ledger.Pricing;
import io.diem.gateway.metrics.GatewayMetrics;
import io.diem.gateway.nodes.NodeDirectory;
import io.diem.gateway.nodes.NodeSession;
import io.diem.gateway.nodes.NodeSessions;
import io.diem.gateway.store.Db;
import io.diem.sign.NodeKey;
import io.diem.sign.SignedEnvelopes;
import io.diem.v1.GatewayMessage;
import io.diem.v1.NodeState;
import io.diem.v1.RegisterPayload;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Missing receipts are charged at what was relayed; only a pattern while the node is up suspends it, and it comes back by itself. */
class OverdueReceiptsTest {

    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock(Instant.parse("2026-12-01T10:00:00Z"));
    Db db;
    Ledger ledger;
    NodeDirectory nodes;
    Jobs jobs;
    ReceiptBooking booking;
    String node;
    NodeKey key;
    String account;
    int job;

    @BeforeEach
    void open() {
        db = Db.open(Db.h2Url(dir), 4);
        ledger = new Ledger(db, LedgerConfig.defaults(), clock);
        nodes = new NodeDirectory(ledger.tx(), clock, Duration.ofSeconds(5), Duration.ofSeconds(15));
        jobs = new Jobs(ledger.tx(), clock);
        booking = new ReceiptBooking(ledger, nodes, jobs, new GatewayMetrics());
        key = NodeKey.generate();
        NodeSession session = new NodeSessions(nodes, clock).open(new NodeSession.Sender() {
            @Override
            public void send(GatewayMessage message) {}

            @Override
            public void end() {}
        }, "peer");
        long now = ledger.now();
        new NodeSessions(nodes, clock).register(session, SignedEnvelopes.seal(key, RegisterPayload.newBuilder().setNodeId(key.nodeId())
                .setPublicKey(ByteString.copyFrom(key.rawPublicKey())).setChallenge(ByteString.copyFrom(session.nonce()))
                .setSignedAtUnixMicros(now).build()));
        node = key.nodeId();
        nodes.approve(node);
        ledger.setPrice(new Pricing("tiny", 0, 1_000_000, 0));
        account = ledger.createAccount("app").accountId();
        ledger.depositVvv(account, 1_000_000_000_000L);
        ledger.stakeVvv(account, 1_000_000_000_000L);
        ledger.mint(account, 100_000_000L, 0);
        ledger.stakeDiem(account, 100_000_000L);
    }

    @AfterEach
    void close() {
        db.close();
    }

    /** A job whose stream relayed {@code tokens} completion tokens and whose receipt never came. */
    private void unreceipted(int tokens) {
        String id = "job-" + ++job;
        ledger.reserve(id, account, null, 100_000);
        jobs.insert(new Jobs.Job(id, id, account, null, node, "tiny", 64, 16, 1_000_000, ledger.now(), Jobs.State.DISPATCHED, false,
                0, 0, 0));
        jobs.recordRelayed(id, 3, tokens, true);
    }

    private NodeState state() {
        return nodes.state(nodes.node(node).orElseThrow());
    }

    @Test
    void fiveMissesWithinAnHourWhileUpSuspendTheNodeWhichReturnsByItself() {
        for (int i = 0; i < 4; i++) {
            unreceipted(2);
        }
        clock.advance(Duration.ofSeconds(2));
        assertThat(booking.settleOverdue(Duration.ofSeconds(1))).isEqualTo(4);
        assertThat(state()).as("four misses are not a pattern").isEqualTo(NodeState.NODE_STATE_HEALTHY);
        assertThat(ledger.usage(account, 10, "")).hasSize(4).allSatisfy(u -> assertThat(u.cost()).isEqualTo(2)); // at relayed

        unreceipted(1);
        clock.advance(Duration.ofSeconds(2));
        assertThat(booking.settleOverdue(Duration.ofSeconds(1))).isEqualTo(1);
        assertThat(state()).isEqualTo(NodeState.NODE_STATE_SUSPENDED);
        assertThat(nodes.node(node).orElseThrow().flagReason()).as("a suspension is not a flag").isNull();

        // 15 minutes later, heartbeating again, it is back without an operator.
        clock.advance(Duration.ofMinutes(15).plusSeconds(1));
        ledger.tx().run(sql -> sql.update("UPDATE nodes SET last_heartbeat_at = ? WHERE node_id = ?", ledger.now(), node));
        nodes.invalidate();
        assertThat(state()).isEqualTo(NodeState.NODE_STATE_HEALTHY);
        assertThat(ledger.invariantViolations()).isEmpty();
    }

    @Test
    void aReceiptThatArrivesBeforeAnotherGatewayRecordedTheRelayIsChargedWhatTheStreamShowed() throws Exception {
        String id = "job-cross";
        ledger.reserve(id, account, null, 100_000);
        jobs.insert(new Jobs.Job(id, id, account, null, node, "tiny", 64, 16, 1_000_000, ledger.now(), Jobs.State.DISPATCHED, false,
                0, 0, 0));
        io.diem.v1.UsageReceipt receipt = io.diem.v1.UsageReceipt.newBuilder().setJobId(id).setNodeId(node).setModel("tiny")
                .setPromptTokens(3).setCompletionTokens(7).setStartedAtUnixMicros(ledger.now() - 1_000)
                .setFinishedAtUnixMicros(ledger.now()).setFinishReason(io.diem.v1.FinishReason.FINISH_REASON_LENGTH).build();
        io.diem.v1.SignedEnvelope batch = io.diem.sign.ReceiptChain.empty().seal(key, java.util.List.of(receipt), ledger.now());
        // The gateway that relayed the stream records its end a moment after the receipt reached this one.
        Thread relaying = new Thread(() -> {
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                return;
            }
            jobs.recordRelayed(id, 3, 7, true);
        });
        relaying.start();
        assertThat(booking.report(io.diem.v1.ReportUsageRequest.newBuilder().addBatches(batch).build()).getAcknowledgedSequence())
                .isEqualTo(1);
        relaying.join();
        assertThat(ledger.usage(account, 10, "")).singleElement().satisfies(u -> assertThat(u.cost()).isEqualTo(7)); // not capped at 0
        assertThat(jobs.get(id).orElseThrow().state()).isEqualTo(Jobs.State.BOOKED);
    }

    @Test
    void aNodeThatIsDownMissesNothingItsInterruptedReceiptsComeLater() {
        for (int i = 0; i < 8; i++) {
            unreceipted(2);
        }
        clock.advance(Duration.ofSeconds(30)); // past the health timeout: the node crashed
        assertThat(booking.settleOverdue(Duration.ofSeconds(1))).isEqualTo(8);
        assertThat(state()).isEqualTo(NodeState.NODE_STATE_SILENT);
        assertThat(nodes.node(node).orElseThrow().suspendedUntil()).isZero();
        assertThat(nodes.node(node).orElseThrow().flagReason()).isNull();
    }
}
