package io.diem.gateway.api;

import io.diem.gateway.nodes.JobChannel;
import io.diem.gateway.nodes.Node;
import io.diem.gateway.nodes.NodeLink;
import io.diem.gateway.nodes.NodeSessions;
import io.diem.v1.ExecuteRequest;
import io.diem.v1.ExecuteResponse;
import io.grpc.Context;
import io.grpc.Status;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * {@link NodeLink} over the nodes' sessions, from inside a caller's gRPC call: when the caller's
 * context is cancelled or its deadline passes, the node is told to stop the job and the dispatcher's
 * iteration ends with that cause.
 */
public final class SessionNodeLink implements NodeLink {

    private final NodeSessions sessions;

    public SessionNodeLink(NodeSessions sessions) {
        this.sessions = sessions;
    }

    @Override
    public Iterator<ExecuteResponse> execute(Node node, String jobId, ExecuteRequest request) {
        JobChannel channel = sessions.start(node.nodeId(), jobId, request);
        Context context = Context.current();
        Context.CancellationListener onCancel = c -> {
            Status status = Status.fromThrowable(c.cancellationCause());
            boolean deadline = status.getCode() == Status.Code.DEADLINE_EXCEEDED;
            sessions.cancel(node.nodeId(), jobId, deadline
                    ? new NodeFailure(NodeFailure.Cause.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", "the call's deadline passed")
                    : new NodeFailure(NodeFailure.Cause.CANCELLED, "CANCELLED", "the caller went away"));
        };
        context.addListener(onCancel, Runnable::run);
        return new Iterator<>() {
            private boolean done;

            @Override
            public boolean hasNext() {
                if (done) {
                    return false;
                }
                try {
                    boolean more = channel.hasNext();
                    if (!more) {
                        finish();
                    }
                    return more;
                } catch (RuntimeException e) {
                    finish();
                    throw e;
                }
            }

            @Override
            public ExecuteResponse next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return channel.next();
            }

            private void finish() {
                done = true;
                context.removeListener(onCancel);
            }
        };
    }
}
