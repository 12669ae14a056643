package io.diem.agent.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code diem-agent}: the node agent's command line. */
@Command(name = "diem-agent", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "The diem-compute node agent: runs models on this machine's GPUs and reports signed usage.",
        subcommands = {IdCommand.class, CommandLine.HelpCommand.class})
public final class AgentMain {

    public static void main(String[] args) {
        System.exit(new CommandLine(new AgentMain()).execute(args));
    }
}
