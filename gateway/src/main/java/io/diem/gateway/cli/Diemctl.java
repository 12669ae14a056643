package io.diem.gateway.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code diemctl}: the operator and client command line of a diem-compute gateway. */
@Command(name = "diemctl", mixinStandardHelpOptions = true,
        description = "Operate a diem-compute gateway: accounts, keys, staking, prices, nodes, epochs.",
        subcommands = {CommandLine.HelpCommand.class})
public final class Diemctl {

    public static void main(String[] args) {
        System.exit(new CommandLine(new Diemctl()).execute(args));
    }
}
