package io.diem.gateway.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code diem-gateway}: the gateway server's command line. The same jar holds {@link Diemctl}, the
 * operator CLI, launched by {@code scripts/diemctl}.
 */
@Command(name = "diem-gateway", mixinStandardHelpOptions = true,
        description = "The diem-compute gateway: authenticates calls, admits them against staked DIEM, dispatches to nodes.",
        subcommands = {CommandLine.HelpCommand.class})
public final class GatewayMain {

    public static void main(String[] args) {
        System.exit(new CommandLine(new GatewayMain()).execute(args));
    }
}
