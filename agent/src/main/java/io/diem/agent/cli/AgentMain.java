package io.diem.agent.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code diem-agent}: the node agent's command line. */
@Command(name = "diem-agent", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "The diem-compute node agent: runs models on this machine's GPUs and reports signed usage.",
        subcommands = {IdCommand.class, ModelsCommand.class, RunCommand.class, TokenizeCommand.class,
                CommandLine.HelpCommand.class})
public final class AgentMain {

    public static void main(String[] args) {
        // One line per record, UTC timestamp first (journald and terminals alike), unless the operator chose a format.
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tLZ %4$s %3$s: %5$s%6$s%n");
        }
        System.exit(commandLine().execute(args));
    }

    /** The command line with error handling that prints a one-line message, not a stack trace. */
    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new AgentMain());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("error: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            return e instanceof IllegalArgumentException ? 2 : 1;
        });
        return cli;
    }
}
