package io.diem.common;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** One mixin, two programs' defaults: flag > env > config file > the default the command gave. */
class ServerOptionsTest {

    @TempDir
    Path dir;

    @Command(name = "serve")
    static final class Serve implements Callable<Integer> {
        @Mixin
        ServerOptions server = new ServerOptions(7070, 9470);

        @Override
        public Integer call() {
            return 0;
        }
    }

    private Serve parse(Map<String, String> env, Path config, String... args) throws Exception {
        Serve serve = new Serve();
        CommandLine cli = new CommandLine(serve);
        cli.setDefaultValueProvider(new ConfigDefaults("DIEM_TEST_", env, config));
        cli.parseArgs(args);
        return serve;
    }

    @Test
    void theCommandsDefaultsHoldUntilEnvFileOrFlagSaysOtherwise() throws Exception {
        Serve plain = parse(Map.of(), null);
        assertThat(plain.server.port).isEqualTo(7070);
        assertThat(plain.server.metricsPort).isEqualTo(9470);
        assertThat(plain.server.bind).isEqualTo("127.0.0.1");
        assertThat(plain.server.config).isNull();

        Path file = Files.writeString(dir.resolve("serve.conf"), "port = 7100\nmetrics-port = 9500\n");
        Serve fromFile = parse(Map.of(), file);
        assertThat(fromFile.server.port).isEqualTo(7100);
        assertThat(fromFile.server.metricsPort).isEqualTo(9500);

        Serve fromEnv = parse(Map.of("DIEM_TEST_PORT", "7200"), file);
        assertThat(fromEnv.server.port).isEqualTo(7200);
        assertThat(fromEnv.server.metricsPort).isEqualTo(9500);

        Serve fromFlag = parse(Map.of("DIEM_TEST_PORT", "7200"), file, "--port", "7300", "--bind", "0.0.0.0");
        assertThat(fromFlag.server.port).isEqualTo(7300);
        assertThat(fromFlag.server.bind).isEqualTo("0.0.0.0");
    }

    @Test
    void helpShowsEachProgramsOwnDefaults() {
        CommandLine agent = new CommandLine(new Object() {
            @Mixin
            ServerOptions server = new ServerOptions(7071, 9471);
        });
        agent.setUsageHelpWidth(200);
        String agentHelp = agent.getUsageMessage();
        assertThat(agentHelp).contains("gRPC port. Default: 7071.").contains("Default: 9471.").contains("Default: 127.0.0.1.");
    }
}
