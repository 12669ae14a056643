package io.diem.gateway.nodes;

import io.diem.v1.NodeState;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Chooses the node for a job: among healthy, approved, unflagged nodes serving the model that have an
 * open session with this gateway and are not ejected ({@link OutlierEjection}), a node proven healthy
 * since its last failure before one that is not, then the least loaded, where load is what the node
 * last reported plus the jobs this gateway has in flight on it (so a burst between heartbeats spreads
 * out). Ties go to the smallest node id. A node with more than {@link #MAX_UNBOOKED_RECEIPTS} receipts
 * waiting to be booked gets no new job until booking catches up: the ledger's pace bounds admission,
 * rather than receipts piling up until their reservations expire.
 */
public final class NodePicker {

    /** Receipts a node may hold unacknowledged and still take new jobs (a few seconds of booking at full load). */
    public static final int MAX_UNBOOKED_RECEIPTS = 4096;

    /**
     * A model served by eligible nodes: the largest context among them, how many there are, and the
     * loosest chat bound they reported ({@link Node.ServedModel}; 0 and 0 when any node did not report one).
     */
    public record AvailableModel(String name, int contextLength, int nodes, int chatFixedTokens, int chatTokensPerMessage) {

        /** Whether every node serving the model reported its chat bound. */
        public boolean hasChatBound() {
            return chatTokensPerMessage > 0;
        }

        AvailableModel plus(AvailableModel o) {
            boolean bound = hasChatBound() && o.hasChatBound();
            return new AvailableModel(name, Math.max(contextLength, o.contextLength), nodes + o.nodes,
                    bound ? Math.max(chatFixedTokens, o.chatFixedTokens) : 0, bound ? Math.max(chatTokensPerMessage, o.chatTokensPerMessage) : 0);
        }
    }

    private final NodeDirectory directory;
    private final NodeSessions sessions;
    private final Map<String, AtomicInteger> inflight = new ConcurrentHashMap<>();
    private final OutlierEjection outliers = new OutlierEjection();

    public NodePicker(NodeDirectory directory, NodeSessions sessions) {
        this.directory = directory;
        this.sessions = sessions;
    }

    /** Dispatch outcomes of each node (the dispatcher reports them). */
    public OutlierEjection outliers() {
        return outliers;
    }

    /** Healthy, approved, unflagged nodes with a session open here. */
    public List<Node> eligible() {
        return directory.nodes().stream()
                .filter(n -> directory.state(n) == NodeState.NODE_STATE_HEALTHY && sessions.connected(n.nodeId())).toList();
    }

    /** The least loaded eligible node serving {@code model}, other than those in {@code exclude}. */
    public Optional<Node> pick(String model, Set<String> exclude) {
        return eligible().stream()
                .filter(n -> n.serves(model) && !exclude.contains(n.nodeId()) && !outliers.ejected(n.nodeId()) && !backlogged(n))
                .min(Comparator.comparing((Node n) -> outliers.unproven(n.nodeId()))
                        .thenComparingInt(n -> n.reportedLoad() + inflight(n.nodeId()).get()).thenComparing(Node::nodeId));
    }

    /** Whether the node's receipts wait for booking beyond {@link #MAX_UNBOOKED_RECEIPTS}. */
    public boolean backlogged(Node n) {
        return directory.unbookedReceipts(n.nodeId()) > MAX_UNBOOKED_RECEIPTS;
    }

    /** Whether every eligible node serving {@code model} is {@link #backlogged} (and there is at least one). */
    public boolean allBacklogged(String model) {
        List<Node> serving = eligible().stream().filter(n -> n.serves(model)).toList();
        return !serving.isEmpty() && serving.stream().allMatch(this::backlogged);
    }

    /** Jobs this gateway is relaying from {@code nodeId} right now (the dispatcher counts them up and down). */
    public AtomicInteger inflight(String nodeId) {
        return inflight.computeIfAbsent(nodeId, id -> new AtomicInteger());
    }

    /** Models served by eligible nodes, by name. */
    public Map<String, AvailableModel> availableModels() {
        Map<String, AvailableModel> out = new TreeMap<>();
        for (Node n : eligible()) {
            for (Node.ServedModel m : n.models()) {
                out.merge(m.name(), new AvailableModel(m.name(), m.contextLength(), 1, m.chatFixedTokens(), m.chatTokensPerMessage()),
                        AvailableModel::plus);
            }
        }
        return out;
    }
}
