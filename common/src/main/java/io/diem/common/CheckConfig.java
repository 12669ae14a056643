package io.diem.common;

import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * What the {@code check-config} commands share: they read the configuration exactly as {@code serve}
 * would, by parsing their arguments into a fresh {@code serve} command with the same defaults provider
 * (flags, then the program's environment variables, then the --config file).
 */
public final class CheckConfig {

    private CheckConfig() {}

    /** {@code serve}, with {@code arguments} and the defaults of the command line {@code spec} belongs to. */
    public static <T> T parseAsServe(T serve, CommandSpec spec, List<String> arguments) {
        CommandLine cli = new CommandLine(serve);
        cli.setDefaultValueProvider(spec.commandLine().getDefaultValueProvider());
        try {
            cli.parseArgs(arguments.toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
            throw new IllegalArgumentException(e.getMessage() + " (check-config takes serve's options)", e);
        }
        return serve;
    }
}
