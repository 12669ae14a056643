package io.diem.agent.cli;

import picocli.CommandLine.IVersionProvider;

/** The agent's version, from the jar manifest (or "dev" when run from classes). */
public final class Version implements IVersionProvider {

    public static String current() {
        String v = Version.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    @Override
    public String[] getVersion() {
        return new String[] {"diem-agent " + current()};
    }
}
