package io.diem.gateway.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Unmatched;

/**
 * {@code diem-gateway check-config}: reads the configuration exactly as {@code serve} would and reports
 * every problem without starting: unknown keys with the key probably meant, the bind and TLS rules,
 * unreadable or mismatched certificate files, the data directory, and (unless {@code --offline}) the
 * ledger database. Exit 0 when all is well, 1 when something is wrong.
 */
@Command(name = "check-config", mixinStandardHelpOptions = true,
        description = "Check the gateway's configuration (as serve reads it) and say what is wrong; start nothing.")
final class CheckConfigCommand implements Callable<Integer> {

    @Option(names = "--offline", description = "Skip the checks that connect to the ledger database (systemd's ExecStartPre "
            + "uses this: a database still starting is not a configuration error).")
    boolean offline;

    @Unmatched
    List<String> serveArguments = new ArrayList<>();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        return io.diem.common.CheckConfig.parseAsServe(new ServeCommand(), spec, serveArguments).check(!offline)
                .print(spec.commandLine().getOut());
    }
}
