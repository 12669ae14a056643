package io.diem.gateway.cli;

import io.diem.common.ConfigDefaults;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/**
 * {@code diem-gateway}: the gateway server's command line. The same jar holds {@link Diemctl}, the
 * operator CLI, launched by {@code scripts/diemctl}.
 */
@Command(name = "diem-gateway", mixinStandardHelpOptions = true,
        description = "The diem-compute gateway: authenticates calls, admits them against staked DIEM, dispatches to nodes.",
        subcommands = {ServeCommand.class, CheckConfigCommand.class, TlsCommand.class, CheckLedgerCommand.class,
                picocli.AutoComplete.GenerateCompletion.class, CommandLine.HelpCommand.class})
public final class GatewayMain {

    @picocli.CommandLine.Mixin
    io.diem.common.LogOptions logs = new io.diem.common.LogOptions();

    public static void main(String[] args) {
        // One line per record, UTC timestamp first (journald and terminals alike), unless the operator chose a format.
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tLZ %4$s %3$s: %5$s%6$s%n");
        }
        System.exit(commandLine(args, System.getenv()).execute(args));
    }

    static CommandLine commandLine(String[] args, java.util.Map<String, String> env) {
        GatewayMain main = new GatewayMain();
        CommandLine cli = new CommandLine(main);
        new io.diem.common.ProgramVersion("diem-gateway", GatewayMain.class).applyTo(cli);
        cli.setExecutionStrategy(parsed -> {
            main.logs.apply();
            return new CommandLine.RunLast().execute(parsed);
        });
        try {
            cli.setDefaultValueProvider(new ConfigDefaults("DIEM_GATEWAY_", env,
                    ConfigDefaults.configFile(args, "DIEM_GATEWAY_", env)));
        } catch (java.io.IOException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(2);
        }
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("error: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            return 1;
        });
        return cli;
    }
}
