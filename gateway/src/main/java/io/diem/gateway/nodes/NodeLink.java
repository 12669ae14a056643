package io.diem.gateway.nodes;

import io.diem.v1.ExecuteRequest;
import io.diem.v1.ExecuteResponse;
import java.util.Iterator;

/**
 * How the gateway reaches a node to run one job: the node's stream of token deltas and its summary.
 * Jobs travel over the node's session ({@link NodeSessions}); the part that knows the caller's gRPC
 * context lives in {@code api/}. A failure of the node or the link surfaces as {@link NodeFailure}
 * while the stream is opened or read. Implementations propagate the caller's cancellation and
 * deadline to the node.
 */
public interface NodeLink {

    /** Starts {@code jobId} on {@code node}; the node's events, deltas then the summary, come from the relay. */
    Relay execute(Node node, String jobId, ExecuteRequest request);

    /**
     * One job's events. The dispatcher closes it once it has recorded what it relayed: only then is the
     * node told to stop a job it still runs, and only then are receipts that arrived after the job's
     * last event booked (so every charge sees the relay record, whatever order things arrive in).
     */
    interface Relay extends Iterator<ExecuteResponse>, AutoCloseable {
        @Override
        void close();
    }

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

        /** The failure a node reported with a gRPC status code name. */
        public static NodeFailure ofCode(String code, String description) {
            Cause cause = switch (code) {
                case "CANCELLED" -> Cause.CANCELLED;
                case "DEADLINE_EXCEEDED" -> Cause.DEADLINE_EXCEEDED;
                case "INVALID_ARGUMENT" -> Cause.INVALID_REQUEST;
                default -> Cause.NODE_FAILED;
            };
            return new NodeFailure(cause, code, description);
        }
    }
}
