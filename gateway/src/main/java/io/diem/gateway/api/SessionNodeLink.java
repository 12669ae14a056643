package io.diem.gateway.api;

import io.diem.gateway.nodes.JobChannel;
import io.diem.gateway.nodes.Node;
import io.diem.gateway.nodes.NodeLink;
import io.diem.gateway.nodes.NodeSessions;
import io.diem.v1.ExecuteRequest;
import io.diem.v1.ExecuteResponse;
import io.grpc.Context;
import io.grpc.Status;

/**
 * {@link NodeLink} over the nodes' sessions, from inside a caller's gRPC call: when the caller's
 * context is cancelled or its deadline passes, the dispatcher's iteration ends with that cause; the
 * node is told to stop the job when the dispatcher closes the relay, after it recorded what it relayed.
 */
public final class SessionNodeLink implements NodeLink {

    private final NodeSessions sessions;

    public SessionNodeLink(NodeSessions sessions) {
        this.sessions = sessions;
    }

    @Override
    public Relay execute(Node node, String jobId, ExecuteRequest request) {
        JobChannel channel = sessions.start(node.nodeId(), jobId, request);
        Context context = Context.current();
        // The caller went away: end the relay here at once; the node is told when the dispatcher closes it.
        Context.CancellationListener onCancel = c -> channel.fail(c.cancellationCause() != null
                && Status.fromThrowable(c.cancellationCause()).getCode() == Status.Code.DEADLINE_EXCEEDED
                        ? new NodeFailure(NodeFailure.Cause.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", "the call's deadline passed")
                        : new NodeFailure(NodeFailure.Cause.CANCELLED, "CANCELLED", "the caller went away"));
        context.addListener(onCancel, Runnable::run);
        return new Relay() {
            @Override
            public boolean hasNext() {
                return channel.hasNext();
            }

            @Override
            public ExecuteResponse next() {
                return channel.next();
            }

            @Override
            public void close() {
                context.removeListener(onCancel);
                sessions.stop(node.nodeId(), jobId);
                channel.recorded();
            }
        };
    }
}
