package io.diem.gateway.nodes;

import io.diem.common.UnixMicros;
import io.diem.gateway.error.GatewayException.Kind;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.nodes.NodeLink.NodeFailure;
import io.diem.v1.ExecuteRequest;
import io.diem.v1.SignedEnvelope;
import java.time.Clock;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The authenticated sessions of this gateway's nodes, by node id: a node is dispatchable from here
 * only while its session is open. A session authenticates by answering its own fresh challenge with a
 * registration signed by the node's key ({@link NodeDirectory#register}); a newer session of the same
 * node replaces the older one, whose jobs fail.
 */
public final class NodeSessions {

    private final NodeDirectory directory;
    private final Clock clock;
    private final Map<String, NodeSession> byNode = new ConcurrentHashMap<>();

    public NodeSessions(NodeDirectory directory, Clock clock) {
        this.directory = directory;
        this.clock = clock;
    }

    /** A new, unauthenticated session; its challenge is the first thing to send. */
    public NodeSession open(NodeSession.Sender sender, String peer) {
        return new NodeSession(sender, peer, UnixMicros.now(clock));
    }

    /** Authenticates {@code session} with the node's signed registration; UNAUTHENTICATED when it does not answer this session's challenge. */
    public Node register(NodeSession session, SignedEnvelope envelope) {
        if (session.authenticated()) {
            throw new GatewayException(Kind.FAILED_PRECONDITION, "this session is already registered as " + session.nodeId());
        }
        Node node = directory.register(envelope, session, UnixMicros.now(clock));
        session.authenticate(node.nodeId());
        NodeSession previous = byNode.put(node.nodeId(), session);
        if (previous != null && previous != session) {
            previous.close();
        }
        return node;
    }

    /** The session ended (either side, or the link). */
    public void closed(NodeSession session) {
        if (session.nodeId() != null) {
            byNode.remove(session.nodeId(), session);
        }
        session.close();
    }

    /** Ends every session (gateway shutdown): their nodes reconnect elsewhere or when this gateway is back. */
    public void endAll() {
        for (NodeSession session : byNode.values()) {
            byNode.remove(session.nodeId(), session);
            session.end();
        }
    }

    public boolean connected(String nodeId) {
        return byNode.containsKey(nodeId);
    }

    public Set<String> connectedNodes() {
        return Set.copyOf(byNode.keySet());
    }

    /** Starts a job on the node's session; NODE_FAILED when the node has no session with this gateway. */
    public JobChannel start(String nodeId, String jobId, ExecuteRequest request) {
        NodeSession session = byNode.get(nodeId);
        if (session == null) {
            JobChannel gone = new JobChannel(jobId);
            gone.fail(new NodeFailure(NodeFailure.Cause.NODE_FAILED, "UNAVAILABLE", "node " + nodeId
                    + " has no session with this gateway"));
            return gone;
        }
        return session.start(jobId, request);
    }

    /** The relay of a job is over: the node is told to stop it if it still runs. */
    public void stop(String nodeId, String jobId) {
        NodeSession session = byNode.get(nodeId);
        if (session != null) {
            session.stop(jobId);
        }
    }
}
