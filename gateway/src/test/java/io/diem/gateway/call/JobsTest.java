package io.diem.gateway.call;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.diem.gateway.call.Jobs.State;
import io.diem.gateway.store.Db;
import io.diem.gateway.store.Tx;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A job leaves DISPATCHED once, for one final state, and nothing moves it again. */
class JobsTest {

    @TempDir
    Path dir;
    Db db;
    Jobs jobs;

    @BeforeEach
    void open() {
        db = Db.open(Db.h2Url(dir), 2);
        jobs = new Jobs(new Tx(db), Clock.systemUTC());
        jobs.insert(new Jobs.Job("job-1", "call-1", "acct-1", null, "node-1", "tiny", 64, 16, 1_000_000, 1, State.DISPATCHED,
                false, 0, 0, 0));
    }

    @AfterEach
    void close() {
        db.close();
    }

    @Test
    void onlyTheFirstOfTwoRacingSettlementsWins() {
        assertThat(jobs.transition("job-1", State.DISPATCHED, State.BOOKED)).isTrue();
        assertThat(jobs.transition("job-1", State.DISPATCHED, State.SETTLED_RELAYED)).isFalse();
        assertThat(jobs.get("job-1").orElseThrow().state()).isEqualTo(State.BOOKED);
    }

    @Test
    void finalStatesNeverMove() {
        for (State from : new State[] {State.ABANDONED, State.BOOKED, State.SETTLED_RELAYED}) {
            for (State to : State.values()) {
                assertThat(from.canBecome(to)).as("%s -> %s", from, to).isFalse();
                assertThatThrownBy(() -> jobs.transition("job-1", from, to)).isInstanceOf(IllegalStateException.class)
                        .hasMessage("job job-1 cannot go from " + from + " to " + to);
            }
        }
        assertThat(State.DISPATCHED.canBecome(State.DISPATCHED)).isFalse();
        assertThat(jobs.get("job-1").orElseThrow().state()).isEqualTo(State.DISPATCHED);
    }

    @Test
    void whatWasRelayedIsRecordedForTheOverdueSweep() {
        jobs.recordRelayed("job-1", 5, 7, false);
        Jobs.Job j = jobs.get("job-1").orElseThrow();
        assertThat(j.relayedPrompt()).isEqualTo(5);
        assertThat(j.relayedCompletion()).isEqualTo(7);
        assertThat(j.streamComplete()).isFalse();
        assertThat(jobs.awaitingReceipt(j.relayedAt() + 1)).extracting(Jobs.Job::jobId).containsExactly("job-1");
        assertThat(jobs.awaitingReceipt(j.relayedAt())).isEmpty();
    }
}
