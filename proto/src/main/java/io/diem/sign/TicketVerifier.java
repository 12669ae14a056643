package io.diem.sign;

import io.diem.sign.VerificationException.Reason;
import io.diem.v1.JobTicket;
import io.diem.v1.SignedTicket;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The node side of job tickets. A ticket is accepted once: it must be authenticated by a key this
 * node holds, name this node, be within its validity window, and carry a job id not seen before.
 * Seen job ids are remembered until their ticket expires (after which the expiry check refuses a
 * replay anyway), so memory is bounded by the tickets issued within one validity window.
 */
public final class TicketVerifier {

    private static final int PRUNE_EVERY = 1024;

    private final String nodeId;
    private final Clock clock;
    private final Duration clockSkew;
    private final Map<String, TicketKey> keys = new ConcurrentHashMap<>();
    /** job id → expiry of its ticket, µs since the epoch. */
    private final Map<String, Long> seenJobs = new ConcurrentHashMap<>();
    private final AtomicInteger acceptsSincePrune = new AtomicInteger();

    /**
     * @param clockSkew how far in the future a ticket's issue time may be before it is refused
     */
    public TicketVerifier(String nodeId, Clock clock, Duration clockSkew) {
        this.nodeId = nodeId;
        this.clock = clock;
        this.clockSkew = clockSkew;
    }

    /** Adds (or replaces) a key; a node keeps the old one while the gateway rotates. */
    public void addKey(TicketKey key) {
        keys.put(key.keyId(), key);
    }

    /** Authenticates, checks and consumes one ticket; throws with the first failing reason. */
    public JobTicket verifyAndConsume(SignedTicket signed) throws VerificationException {
        JobTicket ticket = verify(signed);
        Long previous = seenJobs.putIfAbsent(ticket.getJobId(), ticket.getExpiresAtUnixMicros());
        if (previous != null) {
            throw new VerificationException(Reason.REPLAYED,
                    "ticket for job " + ticket.getJobId() + " was already used on this node");
        }
        if (acceptsSincePrune.incrementAndGet() >= PRUNE_EVERY) {
            acceptsSincePrune.set(0);
            pruneExpired();
        }
        return ticket;
    }

    /** All checks but the replay check; consumes nothing. */
    public JobTicket verify(SignedTicket signed) throws VerificationException {
        TicketKey key = keys.get(signed.getKeyId());
        if (key == null) {
            throw new VerificationException(Reason.UNKNOWN_KEY,
                    "ticket key '" + signed.getKeyId() + "' is not known to this node (re-register with the gateway)");
        }
        byte[] bytes = signed.getTicket().toByteArray();
        if (!key.matches(bytes, signed.getMac().toByteArray())) {
            throw new VerificationException(Reason.BAD_MAC, "ticket authenticator does not match its contents");
        }
        JobTicket ticket = SignedEnvelopes.parse(JobTicket.parser(), bytes);
        if (!ticket.getKeyId().equals(signed.getKeyId())) {
            throw new VerificationException(Reason.MALFORMED,
                    "ticket names key '" + ticket.getKeyId() + "' but is authenticated by '" + signed.getKeyId() + "'");
        }
        if (ticket.getJobId().isEmpty()) {
            throw new VerificationException(Reason.MALFORMED, "ticket has no job id");
        }
        if (!ticket.getNodeId().equals(nodeId)) {
            throw new VerificationException(Reason.WRONG_NODE,
                    "ticket is for node " + ticket.getNodeId() + ", this is " + nodeId);
        }
        long now = micros(clock.instant());
        if (now >= ticket.getExpiresAtUnixMicros()) {
            throw new VerificationException(Reason.EXPIRED,
                    "ticket expired " + (now - ticket.getExpiresAtUnixMicros()) / 1000 + " ms ago");
        }
        if (ticket.getIssuedAtUnixMicros() > now + clockSkew.toNanos() / 1000) {
            throw new VerificationException(Reason.NOT_YET_VALID,
                    "ticket is issued " + (ticket.getIssuedAtUnixMicros() - now) / 1000
                            + " ms in the future; check the clocks of gateway and node");
        }
        return ticket;
    }

    /** Job ids remembered for replay protection (tickets not yet expired, plus up to one prune lag). */
    public int rememberedJobs() {
        return seenJobs.size();
    }

    /** Forgets job ids whose tickets have expired. */
    public void pruneExpired() {
        long now = micros(clock.instant());
        for (Iterator<Map.Entry<String, Long>> it = seenJobs.entrySet().iterator(); it.hasNext(); ) {
            if (it.next().getValue() <= now) {
                it.remove();
            }
        }
    }

    public static long micros(Instant instant) {
        return Math.addExact(Math.multiplyExact(instant.getEpochSecond(), 1_000_000L), instant.getNano() / 1000);
    }
}
