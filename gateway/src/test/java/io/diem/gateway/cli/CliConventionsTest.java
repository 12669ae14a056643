package io.diem.gateway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/** Every command of diem-gateway and diemctl answers --version and documents every option and parameter. */
class CliConventionsTest {

    private static void walk(CommandLine cli, List<CommandLine> out) {
        out.add(cli);
        cli.getSubcommands().values().stream().distinct().forEach(sub -> walk(sub, out));
    }

    private static List<String> path(CommandLine cli) {
        List<String> names = new ArrayList<>();
        for (CommandLine c = cli; c.getParent() != null; c = c.getParent()) {
            names.add(0, c.getCommandName());
        }
        return names;
    }

    private static void check(java.util.function.Supplier<CommandLine> fresh, String program) {
        List<CommandLine> commands = new ArrayList<>();
        walk(fresh.get(), commands);
        assertThat(commands).hasSizeGreaterThan(5);
        List<String> undocumented = new ArrayList<>();
        for (CommandLine c : commands) {
            List<String> args = new ArrayList<>(path(c));
            if (args.contains("help")) {
                continue;
            }
            args.add("--version");
            CommandLine cli = fresh.get();
            StringWriter out = new StringWriter();
            cli.setOut(new PrintWriter(out));
            cli.setErr(new PrintWriter(new StringWriter()));
            assertThat(cli.execute(args.toArray(String[]::new))).as("%s %s", program, args).isZero();
            assertThat(out.toString()).as("%s %s", program, args).startsWith(program + " ");
            for (OptionSpec o : c.getCommandSpec().options()) {
                if (String.join("", o.description()).isBlank()) {
                    undocumented.add(String.join(" ", path(c)) + " " + o.longestName());
                }
            }
            for (PositionalParamSpec p : c.getCommandSpec().positionalParameters()) {
                if (String.join("", p.description()).isBlank()) {
                    undocumented.add(String.join(" ", path(c)) + " " + p.paramLabel());
                }
            }
        }
        assertThat(undocumented).as("options and parameters without help text").isEmpty();
    }

    @Test
    void diemGateway() {
        check(() -> GatewayMain.commandLine(new String[0], Map.of()), "diem-gateway");
    }

    @Test
    void serveRefusesALeaseLifeOutOfRangeBeforeTouchingAnyState(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        for (String seconds : new String[] {"2", "3601"}) {
            java.nio.file.Path data = dir.resolve("data-" + seconds);
            CommandLine cli = GatewayMain.commandLine(new String[0], Map.of());
            StringWriter err = new StringWriter();
            cli.setErr(new PrintWriter(err));
            assertThat(cli.execute("serve", "--credit-lease-seconds", seconds, "--data-dir", data.toString(), "--port", "0",
                    "--metrics-port", "0", "--http-port", "-1")).isNotZero();
            assertThat(err.toString()).contains("credit-lease-seconds = " + seconds + " must be 3..3600");
            assertThat(data).doesNotExist();
        }
    }

    @Test
    void diemctl() {
        check(() -> Diemctl.commandLine(Map.of()), "diemctl");
    }
}
