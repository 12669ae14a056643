package io.diem.agent.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine;

/** {@code diem-agent}: the node agent's command line. */
@Command(name = "diem-agent", mixinStandardHelpOptions = true,
        description = "The diem-compute node agent: runs models on this machine's GPUs and reports signed usage.",
        subcommands = {ServeCommand.class, CheckConfigCommand.class, IdCommand.class, ModelsCommand.class, RunCommand.class, TokenizeCommand.class,
                picocli.AutoComplete.GenerateCompletion.class, CommandLine.HelpCommand.class})
public final class AgentMain {

    /** The agent's version (jar manifest), answered by --version on every command. */
    static final io.diem.common.ProgramVersion VERSION = new io.diem.common.ProgramVersion("diem-agent", AgentMain.class);

    @picocli.CommandLine.Mixin
    io.diem.common.LogOptions logs = new io.diem.common.LogOptions();

    public static void main(String[] args) {
        // One line per record, UTC timestamp first (journald and terminals alike), unless the operator chose a format.
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tLZ %4$s %3$s: %5$s%6$s%n");
        }
        CommandLine cli;
        try {
            cli = commandLine(args, System.getenv());
        } catch (IllegalArgumentException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(2);
            return;
        }
        System.exit(cli.execute(args));
    }

    /** The command line with error handling that prints a one-line message, not a stack trace. */
    static CommandLine commandLine() {
        return commandLine(new String[0], System.getenv());
    }

    /** The command line; options default from DIEM_AGENT_* variables and the --config file named in {@code args}. */
    static CommandLine commandLine(String[] args, java.util.Map<String, String> env) {
        AgentMain main = new AgentMain();
        CommandLine cli = new CommandLine(main);
        VERSION.applyTo(cli);
        cli.setExecutionStrategy(parsed -> {
            main.logs.apply();
            return new CommandLine.RunLast().execute(parsed);
        });
        try {
            cli.setDefaultValueProvider(new io.diem.common.ConfigDefaults("DIEM_AGENT_", env,
                    io.diem.common.ConfigDefaults.configFile(args, "DIEM_AGENT_", env)));
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("error: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            return e instanceof IllegalArgumentException ? 2 : 1;
        });
        return cli;
    }
}
