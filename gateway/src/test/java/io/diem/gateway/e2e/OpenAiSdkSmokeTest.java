package io.diem.gateway.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.diem.gateway.ledger.LedgerViews;
import io.diem.gateway.ledger.Pricing;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The official OpenAI SDK for Node ({@code scripts/openai-smoke/smoke.mjs}, {@code openai} from the npm
 * registry) against a real gateway and agent: models, a chat completion, a streamed one with usage, and
 * a 402 once credit is gone; afterwards the account was charged exactly what the responses showed.
 * Skipped (and says so) where Node or the installed SDK is missing; {@code .ci/run} installs it.
 */
class OpenAiSdkSmokeTest {

    private static final Path SMOKE = Path.of("..", "scripts", "openai-smoke").toAbsolutePath().normalize();

    @TempDir
    Path dir;

    @Test
    void theOfficialSdkListsCompletesStreamsAndIsRefusedWhenCreditIsGone() throws Exception {
        Assumptions.assumeTrue(Files.isDirectory(SMOKE.resolve("node_modules/openai")),
                "the openai SDK is not installed (run: cd scripts/openai-smoke && npm ci)");
        Assumptions.assumeTrue(new ProcessBuilder("node", "--version").start().waitFor() == 0, "node is not installed");
        try (LocalCluster c = new LocalCluster(dir, io.diem.gateway.store.Db.h2Url(dir.resolve("ledger")), Duration.ofMinutes(5), 3)) {
            c.startAgent("a1");
            c.approveWhenRegistered(c.nodeIdOf("a1"));
            c.ledger.setPrice(new Pricing("tiny", 100_000, 400_000, 50_000)); // a worst case of $0.25
            String[] app = c.stakedAccount(10_000_000);
            String[] poor = c.stakedAccount(100_000); // $0.10/day: less than one worst case
            ProcessBuilder pb = new ProcessBuilder("node", "smoke.mjs").directory(SMOKE.toFile())
                    .redirectError(dir.resolve("smoke.err").toFile());
            pb.environment().put("DIEM_BASE_URL", "http://127.0.0.1:" + c.gateway.httpPort() + "/v1");
            pb.environment().put("DIEM_KEY", app[1]);
            pb.environment().put("DIEM_POOR_KEY", poor[1]);
            pb.environment().put("DIEM_MODEL", "tiny");
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(out + Files.readString(dir.resolve("smoke.err"))).isZero();

            JsonObject seen = JsonParser.parseString(out.strip()).getAsJsonObject();
            assertThat(seen.getAsJsonArray("models").toString()).contains("\"tiny\"");
            assertThat(seen.getAsJsonObject("refused").get("status").getAsInt()).isEqualTo(402);
            assertThat(seen.getAsJsonObject("refused").get("code").getAsString()).isEqualTo("insufficient_credit");
            long shown = 0;
            for (var cost : seen.getAsJsonArray("costs_micro_usd")) {
                shown += cost.getAsLong();
            }
            assertThat(shown).isPositive();

            await().atMost(Duration.ofSeconds(20)).until(() -> c.ledger.usage(app[0], 10, "").size() == 2
                    && c.ledger.balance(app[0]).reserved() == 0);
            LedgerViews.Balance after = c.ledger.balance(app[0]);
            assertThat(after.spent()).isEqualTo(shown);
            assertThat(after.remaining()).isEqualTo(10_000_000 - shown);
            assertThat(c.ledger.usage(poor[0], 10, "")).isEmpty();
            assertThat(c.ledger.balance(poor[0]).spent()).isZero();
        }
    }
}
