package io.diem.gateway.usage;

import io.diem.gateway.error.GatewayException.Kind;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.nodes.Node;
import io.diem.gateway.nodes.NodeDirectory;
import io.diem.gateway.store.Sql;
import io.diem.sign.ReceiptChain;
import io.diem.sign.SignedEnvelopes;
import io.diem.sign.VerificationException;
import io.diem.v1.ReceiptBatch;
import io.diem.v1.SignedEnvelope;
import java.sql.SQLException;

/**
 * Where each node's chain of receipt batches stands: the sequence and hash of the last batch booked,
 * kept on the node's row. A report is verified from there, batch by batch, with the receipt-chain
 * class the agent signs with, and the new position is stored once its receipts are booked.
 */
public final class ReceiptChains {

    /** A node and its chain, positioned after the last batch booked from it. */
    public record Position(Node node, ReceiptChain chain) {}

    private final NodeDirectory nodes;

    public ReceiptChains(NodeDirectory nodes) {
        this.nodes = nodes;
    }

    /** The chain of {@code nodeId}; NOT_FOUND for unknown nodes, PERMISSION_DENIED for revoked ones. */
    public Position open(String nodeId) {
        Node node = nodes.node(nodeId).orElseThrow(() -> new GatewayException(Kind.NOT_FOUND, "node " + nodeId + " is not registered"));
        if (node.approval() == Node.Approval.REVOKED) {
            throw new GatewayException(Kind.PERMISSION_DENIED, "node " + nodeId + " is revoked");
        }
        return new Position(node, new ReceiptChain(node.ackedSequence(), node.ackedHash()));
    }

    /**
     * The position a node's chain jumps to when the node sent a batch past a gap it can no longer fill:
     * just before that batch, at the hash the batch names as its previous one. Null unless the envelope
     * verifies under the node's key (a forged batch moves nothing).
     */
    public Position resync(Position position, SignedEnvelope envelope) {
        ReceiptBatch batch;
        try {
            batch = SignedEnvelopes.open(envelope, position.node().nodeId(), position.node().publicKey(), ReceiptBatch.parser());
        } catch (VerificationException e) {
            return null;
        }
        if (batch.getSequence() <= position.chain().lastSequence() + 1) {
            return null;
        }
        return new Position(position.node(), new ReceiptChain(batch.getSequence() - 1, batch.getPreviousHash().toByteArray()));
    }

    /** Stores the chain's position after a batch, in the transaction that books its receipts. */
    public void acknowledge(Sql sql, Position position) throws SQLException {
        NodeDirectory.setAcknowledged(sql, position.node().nodeId(), position.chain().lastSequence(), position.chain().lastHash());
    }
}
