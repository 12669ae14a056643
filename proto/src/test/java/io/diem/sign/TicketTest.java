package io.diem.sign;

import static io.diem.sign.SignedEnvelopesTest.assertReason;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.diem.sign.VerificationException.Reason;
import io.diem.v1.JobTicket;
import io.diem.v1.SignedTicket;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class TicketTest {

    private static final Instant NOW = Instant.parse("2026-11-26T12:00:00Z");
    private final byte[] gatewaySecret = "a 32-byte gateway ticket secret!".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private final String nodeId = "node-0123456789abcdef0123456789abcdef";
    private final TicketKey gatewayKey = TicketKey.derive(gatewaySecret, "k1", nodeId);
    private final TicketVerifier verifier = new TicketVerifier(nodeId, Clock.fixed(NOW, ZoneOffset.UTC), Duration.ofSeconds(5));

    TicketTest() {
        // the node receives exactly the derived key bytes at registration
        verifier.addKey(new TicketKey("k1", TicketKey.derive(gatewaySecret, "k1", nodeId).secretBytes()));
    }

    private JobTicket.Builder ticket(String jobId) {
        long now = TicketVerifier.micros(NOW);
        return JobTicket.newBuilder()
                .setJobId(jobId)
                .setNodeId(nodeId)
                .setAccountRef("acct-ref")
                .setModel("tiny")
                .setMaxPromptTokens(100)
                .setMaxCompletionTokens(50)
                .setGpuMicrosLimit(2_000_000)
                .setIssuedAtUnixMicros(now)
                .setExpiresAtUnixMicros(now + 60_000_000L);
    }

    @Test
    void roundTripBindsEveryField() throws Exception {
        SignedTicket signed = TicketMinter.mint(TicketKey.derive(gatewaySecret, "k1", nodeId), ticket("job-1").build());
        JobTicket accepted = verifier.verifyAndConsume(signed);
        assertThat(accepted).isEqualTo(ticket("job-1").setKeyId("k1").build());
        assertThat(signed.getMac().size()).isEqualTo(TicketKey.MAC_BYTES);
    }

    @Test
    void replayedTicketIsRejected() throws Exception {
        SignedTicket signed = TicketMinter.mint(gatewayKey, ticket("job-2").build());
        verifier.verifyAndConsume(signed);
        assertReason(() -> verifier.verifyAndConsume(signed), Reason.REPLAYED);
    }

    @Test
    void expiredTicketIsRejected() {
        long now = TicketVerifier.micros(NOW);
        SignedTicket signed = TicketMinter.mint(gatewayKey,
                ticket("job-3").setIssuedAtUnixMicros(now - 120_000_000L).setExpiresAtUnixMicros(now).build());
        assertReason(() -> verifier.verifyAndConsume(signed), Reason.EXPIRED);
    }

    @Test
    void ticketFromTheFutureIsRejected() {
        long now = TicketVerifier.micros(NOW);
        SignedTicket signed = TicketMinter.mint(gatewayKey,
                ticket("job-4").setIssuedAtUnixMicros(now + 30_000_000L).setExpiresAtUnixMicros(now + 90_000_000L).build());
        assertReason(() -> verifier.verifyAndConsume(signed), Reason.NOT_YET_VALID);
    }

    @Test
    void ticketForAnotherNodeIsRejectedEvenWithThisNodesKey() {
        SignedTicket signed = TicketMinter.mint(gatewayKey, ticket("job-5").setNodeId("node-other").build());
        assertReason(() -> verifier.verifyAndConsume(signed), Reason.WRONG_NODE);
    }

    @Test
    void ticketMadeWithAnotherNodesKeyFailsTheMac() {
        TicketKey otherNodesKey = TicketKey.derive(gatewaySecret, "k1", "node-other");
        SignedTicket signed = TicketMinter.mint(otherNodesKey, ticket("job-6").build());
        assertReason(() -> verifier.verifyAndConsume(signed), Reason.BAD_MAC);
    }

    @Test
    void tamperedTicketFailsTheMac() {
        SignedTicket signed = TicketMinter.mint(gatewayKey, ticket("job-7").build());
        JobTicket raised = ticket("job-7").setKeyId("k1").setMaxCompletionTokens(1_000_000).build();
        SignedTicket tampered = signed.toBuilder().setTicket(raised.toByteString()).build();
        assertReason(() -> verifier.verifyAndConsume(tampered), Reason.BAD_MAC);
    }

    @Test
    void unknownKeyIdIsRejected() {
        SignedTicket signed = TicketMinter.mint(TicketKey.derive(gatewaySecret, "k2", nodeId), ticket("job-8").build());
        assertReason(() -> verifier.verifyAndConsume(signed), Reason.UNKNOWN_KEY);
    }

    @Test
    void authenticGarbageIsMalformed() {
        byte[] garbage = {(byte) 0xff, (byte) 0xff};
        SignedTicket signed = SignedTicket.newBuilder()
                .setTicket(ByteString.copyFrom(garbage))
                .setMac(ByteString.copyFrom(gatewayKey.mac(garbage)))
                .setKeyId("k1")
                .build();
        assertReason(() -> verifier.verifyAndConsume(signed), Reason.MALFORMED);
    }

    @Test
    void expiredJobIdsAreForgotten() throws Exception {
        Instant[] now = {NOW};
        Clock moving = new Clock() {
            @Override public ZoneOffset getZone() { return ZoneOffset.UTC; }
            @Override public Clock withZone(java.time.ZoneId zone) { return this; }
            @Override public Instant instant() { return now[0]; }
        };
        TicketVerifier v = new TicketVerifier(nodeId, moving, Duration.ZERO);
        v.addKey(gatewayKey);
        v.verifyAndConsume(TicketMinter.mint(gatewayKey, ticket("job-9").build()));
        assertThat(v.rememberedJobs()).isEqualTo(1);
        now[0] = NOW.plusSeconds(61);
        v.pruneExpired();
        assertThat(v.rememberedJobs()).isZero();
    }
}
