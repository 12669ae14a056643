package io.diem.common;

import picocli.CommandLine;
import picocli.CommandLine.IVersionProvider;

/**
 * A program's version for {@code --version}: the jar manifest's Implementation-Version of the
 * program's classes ("dev" when run from classes), given to every command of its tree so that
 * {@code -V} answers everywhere, not only at the top.
 */
public final class ProgramVersion implements IVersionProvider {

    private final String program;
    private final Class<?> anchor;

    public ProgramVersion(String program, Class<?> anchor) {
        this.program = program;
        this.anchor = anchor;
    }

    public String current() {
        String v = anchor.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    @Override
    public String[] getVersion() {
        return new String[] {program + " " + current(), "Java " + System.getProperty("java.version") + " ("
                + System.getProperty("java.vm.name") + ")"};
    }

    /** Sets this version on {@code cli} and every subcommand below it; returns {@code cli}. */
    public CommandLine applyTo(CommandLine cli) {
        cli.getCommandSpec().versionProvider(this);
        for (CommandLine sub : cli.getSubcommands().values()) {
            applyTo(sub);
        }
        return cli;
    }
}
