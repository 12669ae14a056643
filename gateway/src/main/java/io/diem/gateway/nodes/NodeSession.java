package io.diem.gateway.nodes;

import io.diem.gateway.nodes.NodeLink.NodeFailure;
import io.diem.v1.ExecuteRequest;
import io.diem.v1.GatewayMessage;
import io.diem.v1.JobCancel;
import io.diem.v1.JobEvent;
import java.security.SecureRandom;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One agent-opened session as the gateway holds it: the challenge it issued, the node it
 * authenticated (none until the node answers the challenge), and the jobs in flight on it. Sending is
 * the transport's ({@link Sender}); closing fails every job still in flight, so no dispatch waits on
 * a session that is gone.
 */
public final class NodeSession {

    /** The transport side of a session. */
    public interface Sender {
        void send(GatewayMessage message);

        /** Ends the session from the gateway's side (the node reconnects, to this gateway or another). */
        void end();
    }

    /** How long a challenge may be answered, in µs. */
    static final long CHALLENGE_TTL_MICROS = 60_000_000L;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Sender sender;
    private final String peer;
    private final byte[] nonce = new byte[32];
    private final long challengedAtMicros;
    private final Map<String, JobChannel> jobs = new ConcurrentHashMap<>();
    /** Jobs whose last event arrived here but whose relay record the dispatcher may not have written yet. */
    private final java.util.Queue<JobChannel> unrecorded = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private volatile String nodeId;
    private volatile boolean closed;

    public NodeSession(Sender sender, String peer, long nowMicros) {
        this.sender = sender;
        this.peer = peer;
        this.challengedAtMicros = nowMicros;
        RANDOM.nextBytes(nonce);
    }

    public byte[] nonce() {
        return nonce.clone();
    }

    /** The session's remote address, as the transport reports it (informational). */
    public String peer() {
        return peer;
    }

    /** Whether {@code answered} is this session's challenge, answered in time, and not answered before. */
    boolean challengeMatches(byte[] answered, long nowMicros) {
        return nodeId == null && java.security.MessageDigest.isEqual(nonce, answered)
                && nowMicros - challengedAtMicros <= CHALLENGE_TTL_MICROS;
    }

    void authenticate(String nodeId) {
        this.nodeId = nodeId;
    }

    /** The authenticated node, or null before the challenge is answered. */
    public String nodeId() {
        return nodeId;
    }

    public boolean authenticated() {
        return nodeId != null;
    }

    public void send(GatewayMessage message) {
        sender.send(message);
    }

    /** Sends a job to the node; its events arrive on the returned channel. */
    JobChannel start(String jobId, ExecuteRequest request) {
        JobChannel channel = new JobChannel(jobId);
        jobs.put(jobId, channel);
        if (closed) {
            jobs.remove(jobId);
            channel.fail(new NodeFailure(NodeFailure.Cause.NODE_FAILED, "UNAVAILABLE", "the node's session closed"));
            return channel;
        }
        sender.send(GatewayMessage.newBuilder().setJob(request).build());
        return channel;
    }

    /** Tells the node to stop a job it still runs (its relay is over); nothing when its last event arrived. */
    void stop(String jobId) {
        JobChannel channel = jobs.remove(jobId);
        if (channel != null && !closed) {
            sender.send(GatewayMessage.newBuilder().setCancel(JobCancel.newBuilder().setJobId(jobId)).build());
        }
    }

    /**
     * Waits (up to {@code maxNanos} in all) until the dispatcher has recorded the relay of every job
     * whose last event this session delivered: a receipt that follows a job's last event on the stream
     * is then booked against that record. Returns the jobs it stopped waiting for.
     */
    public int awaitRelayRecords(long maxNanos) {
        long deadline = System.nanoTime() + maxNanos;
        int late = 0;
        for (JobChannel channel; (channel = unrecorded.peek()) != null; unrecorded.poll()) {
            if (!channel.awaitRecorded(deadline - System.nanoTime())) {
                late++;
            }
        }
        return late;
    }

    /** Routes one of the node's job events to its channel; events of unknown jobs are dropped. */
    public void deliver(JobEvent event) {
        JobChannel channel = jobs.get(event.getJobId());
        if (channel == null) {
            return;
        }
        switch (event.getEventCase()) {
            case DELTA -> channel.offer(io.diem.v1.ExecuteResponse.newBuilder().setDelta(event.getDelta()).build());
            case SUMMARY -> {
                jobs.remove(event.getJobId());
                unrecorded.add(channel);
                channel.offer(io.diem.v1.ExecuteResponse.newBuilder().setSummary(event.getSummary()).build());
            }
            case ERROR -> {
                jobs.remove(event.getJobId());
                unrecorded.add(channel);
                channel.fail(NodeFailure.ofCode(event.getError().getCode(), event.getError().getDescription()));
            }
            default -> { }
        }
    }

    /** The session ended: every job still in flight fails. */
    void close() {
        closed = true;
        for (String jobId : jobs.keySet()) {
            JobChannel channel = jobs.remove(jobId);
            if (channel != null) {
                channel.fail(new NodeFailure(NodeFailure.Cause.NODE_FAILED, "UNAVAILABLE", "the node's session closed"));
            }
        }
    }

    /** Closes the session and ends its stream (gateway shutdown). */
    void end() {
        close();
        sender.end();
    }

    int jobsInFlight() {
        return jobs.size();
    }
}
