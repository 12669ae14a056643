package io.diem.agent.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Unmatched;

/**
 * {@code diem-agent check-config}: reads the configuration exactly as {@code serve} would (flags, then
 * DIEM_AGENT_* variables, then the --config file) and reports every problem without starting:
 * unknown keys with the key probably meant, missing or unreadable model directories, a gateway that
 * is not HOST:PORT, unreachable, or whose certificate this node does not trust. Exit 0 when all is
 * well, 1 when something is wrong, 2 when the arguments themselves are wrong.
 */
@Command(name = "check-config", mixinStandardHelpOptions = true,
        description = "Check the agent's configuration (as serve reads it) and say what is wrong; start nothing.")
final class CheckConfigCommand implements Callable<Integer> {

    @Option(names = "--offline", description = "Skip the checks that dial the gateway (systemd's ExecStartPre uses this: a "
            + "gateway that is away at boot is not a configuration error).")
    boolean offline;

    @Unmatched
    List<String> serveArguments = new ArrayList<>();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        return io.diem.common.CheckConfig.parseAsServe(new ServeCommand(), spec, serveArguments).check(!offline, true)
                .print(spec.commandLine().getOut());
    }
}
