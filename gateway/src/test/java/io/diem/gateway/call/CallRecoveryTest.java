package io.diem.gateway.call;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.diem.gateway.call.Jobs.State;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerConfig;
import io.diem.gateway.ledger.MutableClock;
import io.diem.gateway.ledger.Reservation;
import io.diem.gateway.store.Db;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A gateway that restarts cleans up after its own previous run, and touches nothing of another gateway's. */
class CallRecoveryTest {

    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock(Instant.parse("2026-12-01T10:00:00Z"));
    Db db;
    Ledger ledger;
    Jobs jobs;
    String account;
    String me;

    @BeforeEach
    void open() throws IOException {
        db = Db.open(Db.h2Url(dir.resolve("ledger")), 4);
        ledger = new Ledger(db, LedgerConfig.defaults(), clock);
        jobs = new Jobs(ledger.tx(), clock);
        account = ledger.createAccount("app").accountId();
        ledger.depositVvv(account, 1_000_000_000_000L);
        ledger.stakeVvv(account, 1_000_000_000_000L);
        ledger.mint(account, 100_000_000L, 0);
        ledger.stakeDiem(account, 100_000_000L);
        me = CallRecovery.gatewayId(dir.resolve("gateway"));
    }

    @AfterEach
    void close() {
        db.close();
    }

    private String reserve(String gatewayId) {
        String id = CallRecovery.newCallId(gatewayId);
        ledger.reserve(id, account, null, 1_000);
        return id;
    }

    private void job(String jobId, String reservationId) {
        jobs.insert(new Jobs.Job(jobId, reservationId, account, null, "node-1", "tiny", 64, 16, 1_000_000, ledger.now(),
                State.DISPATCHED, false, 0, 0, 0));
    }

    @Test
    void theIdIsMadeOnceAndKept() throws IOException {
        assertThat(me).matches("[0-9a-f]{16}");
        assertThat(CallRecovery.gatewayId(dir.resolve("gateway"))).isEqualTo(me);
        String callId = CallRecovery.newCallId(me);
        assertThat(callId).matches("call_" + me + "_[0-9a-f]{32}");
        assertThat("charge:" + callId).hasSizeLessThanOrEqualTo(64); // the ledger operation that posts it
        Files.writeString(dir.resolve("gateway/gateway.id"), "not-an-id\n");
        assertThatThrownBy(() -> CallRecovery.gatewayId(dir.resolve("gateway"))).isInstanceOf(IOException.class)
                .hasMessageContaining("16 lowercase hex digits");
    }

    @Test
    void aCallThatNeverReachedANodeIsReleasedAtOnce() {
        String undispatched = reserve(me);
        String allAbandoned = reserve(me);
        job("job-a", allAbandoned);
        jobs.transition("job-a", State.DISPATCHED, State.ABANDONED);
        assertThat(ledger.balance(account).reserved()).isEqualTo(2_000);

        assertThat(CallRecovery.recover(ledger, me)).isEqualTo(new CallRecovery.Recovered(2, 0, 0));

        assertThat(ledger.reservation(undispatched).orElseThrow().state()).isEqualTo(Reservation.State.VOIDED);
        assertThat(ledger.reservation(allAbandoned).orElseThrow().state()).isEqualTo(Reservation.State.VOIDED);
        assertThat(ledger.balance(account).reserved()).isZero();
        assertThat(ledger.invariantViolations()).isEmpty();
    }

    @Test
    void aJobCutOffMidStreamGetsARelayRecordSoItIsSettledWithoutItsReceipt() {
        String cutOff = reserve(me);
        job("job-cut", cutOff);
        String relayed = reserve(me);
        job("job-done", relayed);
        jobs.recordRelayed("job-done", 7, 9, true);
        long before = jobs.get("job-done").orElseThrow().relayedAt();
        clock.advance(java.time.Duration.ofSeconds(1));

        assertThat(CallRecovery.recover(ledger, me)).isEqualTo(new CallRecovery.Recovered(0, 1, 0));

        Jobs.Job cut = jobs.get("job-cut").orElseThrow();
        assertThat(cut.relayedAt()).isPositive();
        assertThat(cut.streamComplete()).isFalse();
        assertThat(cut.relayedCompletion()).isZero();
        Jobs.Job done = jobs.get("job-done").orElseThrow();
        assertThat(done.relayedAt()).isEqualTo(before);
        assertThat(done.relayedCompletion()).isEqualTo(9);
        assertThat(done.streamComplete()).isTrue();
        // Both still hold their reservations: their receipts (or the overdue sweep) settle them.
        assertThat(ledger.reservation(cutOff).orElseThrow().state()).isEqualTo(Reservation.State.PENDING);
        assertThat(ledger.reservation(relayed).orElseThrow().state()).isEqualTo(Reservation.State.PENDING);
        assertThat(jobs.awaitingReceipt(ledger.now() + 1)).extracting(Jobs.Job::jobId).contains("job-cut", "job-done");
        // A second start finds nothing more to do.
        assertThat(CallRecovery.recover(ledger, me)).isEqualTo(new CallRecovery.Recovered(0, 0, 0));
    }

    @Test
    void anotherGatewaysCallsAreLeftAlone() {
        String other = "0123456789abcdef".equals(me) ? "fedcba9876543210" : "0123456789abcdef";
        String theirs = reserve(other);
        String theirJob = reserve(other);
        job("job-theirs", theirJob);
        // An id that matches only if the LIKE underscores were wildcards.
        String lookalike = "callX" + me + "X" + java.util.UUID.randomUUID();
        ledger.reserve(lookalike, account, null, 1_000);

        assertThat(CallRecovery.recover(ledger, me)).isEqualTo(new CallRecovery.Recovered(0, 0, 0));

        assertThat(ledger.reservation(theirs).orElseThrow().state()).isEqualTo(Reservation.State.PENDING);
        assertThat(ledger.reservation(lookalike).orElseThrow().state()).isEqualTo(Reservation.State.PENDING);
        assertThat(jobs.get("job-theirs").orElseThrow().relayedAt()).isZero();
    }
}
