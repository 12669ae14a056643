package io.diem.gateway.nodes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.diem.gateway.nodes.NodeLink.NodeFailure;
import io.diem.v1.ExecuteRequest;
import io.diem.v1.ExecuteSummary;
import io.diem.v1.GatewayMessage;
import io.diem.v1.JobEvent;
import io.diem.v1.TokenDelta;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How one session routes job events, and why booking waits for the dispatcher's relay record. */
class NodeSessionTest {

    private final List<GatewayMessage> sent = new ArrayList<>();
    private final NodeSession session = new NodeSession(new NodeSession.Sender() {
        @Override
        public void send(GatewayMessage message) {
            sent.add(message);
        }

        @Override
        public void end() {}
    }, "peer", 0);

    private static JobEvent delta(String job) {
        return JobEvent.newBuilder().setJobId(job).setDelta(TokenDelta.newBuilder().addTokenIds(7)).build();
    }

    private static JobEvent summary(String job) {
        return JobEvent.newBuilder().setJobId(job).setSummary(ExecuteSummary.newBuilder().setJobId(job).setCompletionTokens(1)).build();
    }

    @Test
    void aReceiptAfterAJobsLastEventWaitsUntilTheRelayIsRecorded() throws Exception {
        JobChannel channel = session.start("job-1", ExecuteRequest.getDefaultInstance());
        session.deliver(delta("job-1"));
        session.deliver(summary("job-1"));
        Thread dispatcher = new Thread(() -> {
            try {
                Thread.sleep(300); // relaying, then writing the relay record
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            channel.recorded();
        });
        long start = System.nanoTime();
        dispatcher.start();
        assertThat(session.awaitRelayRecords(5_000_000_000L)).isZero();
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(250_000_000L); // it waited for the record
        dispatcher.join();
        // Nothing is left to wait for, and the channel yields the delta then the summary, then ends.
        assertThat(session.awaitRelayRecords(0)).isZero();
        assertThat(channel.next().hasDelta()).isTrue();
        assertThat(channel.next().hasSummary()).isTrue();
        assertThat(channel.hasNext()).isFalse();
    }

    @Test
    void bookingWaitsOnlyBoundedlyForARecordThatNeverComes() {
        session.start("job-2", ExecuteRequest.getDefaultInstance());
        session.deliver(summary("job-2"));
        long start = System.nanoTime();
        assertThat(session.awaitRelayRecords(100_000_000L)).isEqualTo(1);
        assertThat(System.nanoTime() - start).isLessThan(2_000_000_000L);
    }

    @Test
    void stoppingAJobTellsTheNodeOnlyWhileItStillRuns() {
        session.start("job-3", ExecuteRequest.getDefaultInstance());
        session.stop("job-3");
        assertThat(sent).filteredOn(GatewayMessage::hasCancel).hasSize(1);
        session.start("job-4", ExecuteRequest.getDefaultInstance());
        session.deliver(summary("job-4"));
        session.stop("job-4"); // finished: nothing to stop
        assertThat(sent).filteredOn(GatewayMessage::hasCancel).hasSize(1);
    }

    @Test
    void aClosedSessionFailsEveryJobInFlight() {
        JobChannel channel = session.start("job-5", ExecuteRequest.getDefaultInstance());
        session.close();
        assertThatThrownBy(channel::hasNext).isInstanceOfSatisfying(NodeFailure.class,
                f -> assertThat(f.failureCause()).isEqualTo(NodeFailure.Cause.NODE_FAILED));
    }
}
