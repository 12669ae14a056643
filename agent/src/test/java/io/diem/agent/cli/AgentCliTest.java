package io.diem.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The provider-facing commands, run in-process as a user would type them. */
class AgentCliTest {

    @TempDir
    Path dir;

    record Run(int exitCode, String out, String err) {}

    private Run run(String... args) {
        CommandLine cli = AgentMain.commandLine();
        StringWriter err = new StringWriter();
        cli.setErr(new PrintWriter(err));
        PrintStream original = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            int code = cli.execute(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString());
        } finally {
            System.setOut(original);
        }
    }

    @Test
    void makeTestThenRunGreedyJsonIsDeterministic() throws Exception {
        Path model = dir.resolve("tiny");
        assertThat(run("models", "make-test", "--out", model.toString(), "--seed", "9").exitCode()).isZero();
        assertThat(Files.list(model).map(p -> p.getFileName().toString()))
                .contains("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json");

        Run a = run("run", "--model", model.toString(), "--token-ids", "1,2,3", "--max-tokens", "5", "--temperature", "0",
                "--engine", "cpu", "--json");
        assertThat(a.exitCode()).as(a.err()).isZero();
        JsonObject o = JsonParser.parseString(a.out()).getAsJsonObject();
        assertThat(o.getAsJsonArray("prompt_token_ids").toString()).isEqualTo("[1,2,3]");
        assertThat(o.getAsJsonArray("generated_token_ids").size()).isEqualTo(5);
        assertThat(o.get("finish_reason").getAsString()).isEqualTo("length");
        assertThat(o.getAsJsonObject("metered").get("kind").getAsString()).isEqualTo("cpu");
        assertThat(o.getAsJsonObject("metered").get("seconds").getAsDouble()).isPositive();
        Run b = run("run", "--model", model.toString(), "--token-ids", "1,2,3", "--max-tokens", "5", "--temperature", "0",
                "--engine", "cpu", "--json");
        assertThat(JsonParser.parseString(b.out()).getAsJsonObject().get("generated_token_ids"))
                .isEqualTo(o.get("generated_token_ids"));
    }

    @Test
    void tokenizeRoundTripsThroughTheCli() throws Exception {
        Path model = dir.resolve("tiny");
        run("models", "make-test", "--out", model.toString());
        Run ids = run("tokenize", "--tokenizer", model.resolve("tokenizer.json").toString(), "Café 東京");
        assertThat(ids.exitCode()).isZero();
        String withoutBos = ids.out().trim().substring(ids.out().indexOf(',') + 1);
        Run text = run("tokenize", "--tokenizer", model.toString(), "--decode", withoutBos);
        assertThat(text.out().trim()).isEqualTo("Café 東京");
    }

    @Test
    void badInputGetsAOneLineErrorNotAStackTrace() throws Exception {
        Path model = dir.resolve("tiny");
        run("models", "make-test", "--out", model.toString());
        Run r = run("run", "--model", model.toString(), "--token-ids", "1,x", "--engine", "cpu");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("error: 'x' is not a token id").doesNotContain("at io.diem");
        Run missing = run("run", "--model", dir.resolve("nope").toString(), "--prompt", "hi");
        assertThat(missing.exitCode()).isEqualTo(1);
        assertThat(missing.err()).contains("not a model directory");
        Run cuda = run("run", "--model", model.toString(), "--prompt", "hi", "--engine", "cuda");
        assertThat(cuda.err()).contains("engine 'cuda' is not available");
    }

    @Test
    void serveRefusesAnyPortThatWouldFaceTheNetworkAndPlaintextToARemoteGateway() throws Exception {
        Path model = dir.resolve("tiny");
        run("models", "make-test", "--out", model.toString());
        Run exposed = run("serve", "--model", model.toString(), "--state-dir", dir.resolve("s1").toString(), "--bind", "0.0.0.0",
                "--engine", "cpu", "--metrics-port", "0");
        assertThat(exposed.exitCode()).isNotZero();
        assertThat(exposed.err()).contains("bind = 0.0.0.0: the agent's local API listens on loopback only")
                .contains("no gateway: set gateway = HOST:PORT"); // a node with no gateway would run earning nothing
        Run plaintext = run("serve", "--model", model.toString(), "--state-dir", dir.resolve("s2").toString(), "--gateway",
                "192.0.2.7:7070", "--gateway-insecure", "--engine", "cpu", "--metrics-port", "0");
        assertThat(plaintext.exitCode()).isNotZero();
        assertThat(plaintext.err()).contains("--insecure (plaintext) is allowed only to a loopback address, not 192.0.2.7:7070");
        assertThat(dir.resolve("s1")).doesNotExist();
        assertThat(dir.resolve("s2")).doesNotExist();
    }
}
