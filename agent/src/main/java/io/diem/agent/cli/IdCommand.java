package io.diem.agent.cli;

import io.diem.sign.NodeKey;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code diem-agent id}: prints this node's id, creating the node key on first use. */
@Command(name = "id", mixinStandardHelpOptions = true,
        description = "Print this node's id (creates the Ed25519 node key in the state directory on first use).")
final class IdCommand implements Callable<Integer> {

    @Option(names = "--state-dir", defaultValue = "/var/lib/diem-agent",
            description = "State directory holding node.key (default: ${DEFAULT-VALUE}).")
    Path stateDir;

    @Override
    public Integer call() throws Exception {
        NodeKey key = NodeKey.loadOrCreate(stateDir.resolve("node.key"));
        System.out.println(key.nodeId());
        return 0;
    }
}
