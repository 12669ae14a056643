package io.diem.gateway.cli;

import static io.diem.gateway.cli.CtlOutput.admin;
import static io.diem.gateway.cli.CtlOutput.describe;

import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code diemctl} commands for GPU nodes. */
final class NodeCommands {

    private NodeCommands() {}

    @Command(name = "node", mixinStandardHelpOptions = true, description = "List, approve and revoke GPU nodes (admin).",
            subcommands = {NodeCmd.List.class, NodeCmd.Approve.class, NodeCmd.Revoke.class})
    static final class NodeCmd {
        static String describe(io.diem.v1.NodeInfo n) {
            return String.format("%s  %s  %s  models [%s]  active %d%s", n.getNodeId(),
                    n.getState().name().replace("NODE_STATE_", "").toLowerCase(Locale.ROOT), n.getEndpoint(),
                    String.join(", ", n.getModelsList()), n.getActiveJobs(),
                    n.getFlagReason().isEmpty() ? "" : "  FLAGGED: " + n.getFlagReason());
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "Nodes and their state.")
        static final class List extends CtlCommand {
            @Override
            public Integer call() {
                return call(c -> admin(c).listNodes(io.diem.v1.ListNodesRequest.getDefaultInstance()),
                        (io.diem.v1.ListNodesResponse r) -> String.join("\n", r.getNodesList().stream().map(NodeCmd::describe).toList()));
            }
        }

        @Command(name = "approve", mixinStandardHelpOptions = true, description = "Let a node take jobs and be paid (clears a flag).")
        static final class Approve extends CtlCommand {
            @Parameters(paramLabel = "NODE_ID", description = "The node (its id from node list).") String nodeId;

            @Override
            public Integer call() {
                return call(c -> admin(c).approveNode(io.diem.v1.NodeIdRequest.newBuilder().setNodeId(nodeId).build()),
                        n -> "approved " + describe(n));
            }
        }

        @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Stop sending a node jobs and paying it.")
        static final class Revoke extends CtlCommand {
            @Parameters(paramLabel = "NODE_ID", description = "The node (its id from node list).") String nodeId;

            @Override
            public Integer call() {
                return call(c -> admin(c).revokeNode(io.diem.v1.NodeIdRequest.newBuilder().setNodeId(nodeId).build()),
                        n -> "revoked " + describe(n));
            }
        }
    }
}
