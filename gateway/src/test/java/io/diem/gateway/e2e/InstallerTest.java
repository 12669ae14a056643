package io.diem.gateway.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The installers staged into a temporary root (--root): they refuse a missing or wrong setting with a
 * message naming the flag, before anything is installed; they run check-config, which stops an install
 * on a misspelled key; and a good install leaves the docs where the units' Documentation= lines point,
 * and bash completion.
 */
class InstallerTest {

    private static final Path REPO = Path.of("..").toAbsolutePath().normalize();

    @TempDir
    Path dir;

    /** {exit code, output}. */
    private static Object[] run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).directory(REPO.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        return new Object[] {p.exitValue(), out};
    }

    private static void documentationExists(Path root, String unit) throws Exception {
        Matcher m = Pattern.compile("(?m)^Documentation=file://(\\S+)$").matcher(Files.readString(root.resolve("etc/systemd/system/" + unit)));
        List<String> docs = new ArrayList<>();
        while (m.find()) {
            docs.add(m.group(1));
            assertThat(root.resolve(m.group(1).substring(1))).as("Documentation= of %s", unit).isRegularFile();
        }
        assertThat(docs).isNotEmpty();
    }

    @Test
    void theAgentInstallerRefusesMistakesAndInstallsWhatItsUnitPointsTo() throws Exception {
        Path model = new LocalCluster.TinyModel(dir).path();
        Path root = dir.resolve("root");
        String script = REPO.resolve("scripts/install-agent.sh").toString();

        Object[] noGateway = run(script, "--root", root.toString(), "--model", model.toString());
        assertThat(noGateway[0]).isEqualTo(2);
        assertThat((String) noGateway[1]).contains("--gateway HOST:PORT is required");
        Object[] noModel = run(script, "--root", root.toString(), "--gateway", "gw.example:7070");
        assertThat(noModel[0]).isEqualTo(2);
        assertThat((String) noModel[1]).contains("--model DIR is required");
        Object[] badModel = run(script, "--root", root.toString(), "--gateway", "gw.example:7070", "--model", dir.resolve("nope").toString());
        assertThat(badModel[0]).isEqualTo(2);
        assertThat((String) badModel[1]).contains("is not a readable model directory");
        assertThat(root.resolve("etc/systemd/system/diem-agent.service")).doesNotExist();

        Object[] ok = run(script, "--root", root.toString(), "--gateway", "gw.example:7070", "--model", model.toString());
        assertThat(ok[0]).as((String) ok[1]).isEqualTo(0);
        assertThat((String) ok[1]).contains("configuration ok");
        assertThat(Files.readString(root.resolve("etc/diem-compute/agent.conf"))).contains("gateway = gw.example:7070");
        documentationExists(root, "diem-agent.service");
        assertThat(Files.readString(root.resolve("usr/share/bash-completion/completions/diem-agent"))).contains("diem-agent", "check-config");

        // An upgrade keeps the config; a misspelled key there stops it, naming the key meant.
        Files.writeString(root.resolve("etc/diem-compute/agent.conf"), "gatewy = gw.example:7070\n",
                java.nio.file.StandardOpenOption.APPEND);
        Object[] typo = run(script, "--root", root.toString());
        assertThat(typo[0]).isEqualTo(1);
        assertThat((String) typo[1]).contains("unknown key 'gatewy' (did you mean 'gateway'?)", "fix ");
    }

    @Test
    void theGatewayInstallerRefusesMistakesAndInstallsWhatItsUnitPointsTo() throws Exception {
        Path root = dir.resolve("root");
        String script = REPO.resolve("scripts/install-gateway.sh").toString();
        Object[] halfTls = run(script, "--root", root.toString(), "--tls-cert", dir.resolve("missing.pem").toString());
        assertThat(halfTls[0]).isEqualTo(2);
        assertThat((String) halfTls[1]).contains("TLS needs both --tls-cert PEM and --tls-key PEM");

        Object[] ok = run(script, "--root", root.toString());
        assertThat(ok[0]).as((String) ok[1]).isEqualTo(0);
        assertThat((String) ok[1]).contains("configuration ok");
        assertThat(Files.readString(root.resolve("etc/diem-compute/gateway.conf"))).contains("http-port = 7080", "bind = 127.0.0.1");
        documentationExists(root, "diem-gateway.service");
        assertThat(Files.readString(root.resolve("usr/share/bash-completion/completions/diemctl"))).contains("diemctl", "generate");

        Files.writeString(root.resolve("etc/diem-compute/gateway.conf"), "metrics-prot = 9470\n", java.nio.file.StandardOpenOption.APPEND);
        Object[] typo = run(script, "--root", root.toString());
        assertThat(typo[0]).isEqualTo(1);
        assertThat((String) typo[1]).contains("unknown key 'metrics-prot' (did you mean 'metrics-port'?)");
    }
}
