package io.diem.gateway.nodes;

import io.diem.v1.ExecuteRequest;
import io.diem.v1.ExecuteResponse;
import java.util.Iterator;

/**
 * How the gateway reaches a node to run one job: the node's stream of token deltas and its summary.
 * The transport (gRPC) lives in {@code api/}; a failure of the node or the link surfaces as
 * {@link NodeFailure} while the stream is opened or read. Implementations propagate the caller's
 * cancellation and deadline to the node.
 */
public interface NodeLink {

    Iterator<ExecuteResponse> execute(Node node, ExecuteRequest request);

    /** Why a node's stream ended without its summary. */
    final class NodeFailure extends RuntimeException {

        /** What the failure means for the call. */
        public enum Cause {
            /** The caller went away (or cancelled); the node stops too. */
            CANCELLED,
            /** The caller's deadline passed. */
            DEADLINE_EXCEEDED,
            /** The node found the request itself invalid; another node would too. */
            INVALID_REQUEST,
            /** The node or the link failed; another node may succeed. */
            NODE_FAILED
        }

        private final Cause cause;
        private final String code;

        /** @param code the transport's name for the failure (a gRPC status code), for messages */
        public NodeFailure(Cause cause, String code, String description) {
            super(description);
            this.cause = cause;
            this.code = code;
        }

        public Cause failureCause() {
            return cause;
        }

        public String code() {
            return code;
        }
    }
}
