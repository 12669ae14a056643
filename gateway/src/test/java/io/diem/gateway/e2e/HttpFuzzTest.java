package io.diem.gateway.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonParser;
import io.diem.gateway.ledger.Pricing;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 1,500 random and mutated bodies (broken JSON, wrong types, huge and negative numbers, deep nesting,
 * invalid UTF-8, unknown fields) at the HTTP API of a real gateway and agent: every answer is a 2xx or
 * a 4xx with an OpenAI error object, never a 5xx, and the gateway serves a valid call afterwards.
 */
class HttpFuzzTest {

    private static final List<String> BASES = List.of(
            "{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 2}",
            "{\"model\": \"tiny\", \"prompt\": \"The node\", \"max_tokens\": 2, \"temperature\": 0, \"stop\": [\"x\"]}",
            "{\"model\": \"tiny\", \"messages\": [{\"role\": \"system\", \"content\": [{\"type\": \"text\", \"text\": \"a\"}]},"
                    + " {\"role\": \"user\", \"content\": \"b\"}], \"max_completion_tokens\": 2, \"stream\": true,"
                    + " \"stream_options\": {\"include_usage\": true}, \"seed\": 1, \"top_p\": 0.5}");
    private static final List<String> VALUES = List.of("null", "true", "-1", "0", "1e309", "-9223372036854775809",
            "18446744073709551616", "0.5", "\"\"", "\"tiny\"", "[]", "{}", "[[[[[[[[[[]]]]]]]]]]", "\"\\ud800\"", "\"\\u0000\"",
            "[\"a\", 1, null]", "{\"type\": \"image_url\"}", "4097", "256", "3");
    private static final Set<Integer> ALLOWED = Set.of(200, 400, 402, 404, 413, 429);

    @TempDir
    Path dir;

    @Test
    void noBodyMakesTheGatewayAnswer5xxOrStopServing() throws Exception {
        try (LocalCluster c = new LocalCluster(dir, io.diem.gateway.store.Db.h2Url(dir.resolve("ledger")), Duration.ofMinutes(5), 3)) {
            c.startAgent("a1");
            c.approveWhenRegistered(c.nodeIdOf("a1"));
            c.ledger.setPrice(new Pricing("tiny", 1, 1, 1));
            String key = c.stakedAccount(10_000_000)[1];
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
            Random random = new Random(20261202);
            Map<Integer, Integer> statuses = new HashMap<>();
            for (int i = 0; i < 1500; i++) {
                byte[] body = mutate(BASES.get(random.nextInt(BASES.size())), random);
                String path = random.nextInt(4) == 0 ? "/v1/completions" : "/v1/chat/completions";
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + c.gateway.httpPort() + path))
                        .timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + key)
                        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
                statuses.merge(r.statusCode(), 1, Integer::sum);
                assertThat(r.statusCode()).as("%s → %s", new String(body, StandardCharsets.UTF_8), r.body()).isIn(ALLOWED);
                if (r.statusCode() != 200) {
                    assertThat(JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonObject("error").get("message")
                            .getAsString()).isNotBlank();
                }
            }
            assertThat(statuses.get(400)).as("statuses %s", statuses).isGreaterThan(500);
            assertThat(statuses.get(200)).as("statuses %s", statuses).isGreaterThan(20);
            HttpResponse<String> ok = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + c.gateway.httpPort()
                    + "/v1/chat/completions")).header("Authorization", "Bearer " + key)
                    .POST(HttpRequest.BodyPublishers.ofString(BASES.get(0))).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
            assertThat(c.gateway.metrics().registry().scrape()).doesNotContain("status=\"500\"");
        }
    }

    /** One of: a value swapped for a hostile one, a truncation, a flipped byte, raw invalid UTF-8, an unknown field. */
    private static byte[] mutate(String base, Random random) {
        String s = base;
        switch (random.nextInt(6)) {
            case 0, 1 -> { // replace the value after a random ':'
                int colon = nth(s, ':', random);
                int end = valueEnd(s, colon + 1);
                s = s.substring(0, colon + 1) + " " + VALUES.get(random.nextInt(VALUES.size())) + s.substring(end);
            }
            case 2 -> s = s.substring(0, random.nextInt(s.length()));
            case 3 -> {
                byte[] b = s.getBytes(StandardCharsets.UTF_8);
                b[random.nextInt(b.length)] = (byte) random.nextInt(256);
                return b;
            }
            case 4 -> s = "{\"" + "x".repeat(random.nextInt(8)) + "unknown\": " + VALUES.get(random.nextInt(VALUES.size())) + ", "
                    + s.substring(1);
            default -> {
                byte[] b = s.getBytes(StandardCharsets.UTF_8);
                byte[] out = new byte[b.length + 2];
                int at = s.indexOf("Hi") >= 0 ? s.indexOf("Hi") : 1;
                System.arraycopy(b, 0, out, 0, at);
                out[at] = (byte) 0xC3; // a lone lead byte and a stray continuation byte
                out[at + 1] = (byte) 0xFF;
                System.arraycopy(b, at, out, at + 2, b.length - at);
                return out;
            }
        }
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static int nth(String s, char c, Random random) {
        int count = (int) s.chars().filter(ch -> ch == c).count();
        int k = random.nextInt(count);
        int at = -1;
        for (int i = 0; i <= k; i++) {
            at = s.indexOf(c, at + 1);
        }
        return at;
    }

    /** Where the JSON value starting at or after {@code from} ends (a rough scan: strings, brackets, scalars). */
    private static int valueEnd(String s, int from) {
        int i = from;
        while (i < s.length() && s.charAt(i) == ' ') {
            i++;
        }
        if (i < s.length() && s.charAt(i) == '"') {
            int j = i + 1;
            while (j < s.length() && s.charAt(j) != '"') {
                j += s.charAt(j) == '\\' ? 2 : 1;
            }
            return Math.min(s.length(), j + 1);
        }
        if (i < s.length() && (s.charAt(i) == '[' || s.charAt(i) == '{')) {
            int depth = 0;
            for (int j = i; j < s.length(); j++) {
                char ch = s.charAt(j);
                if (ch == '[' || ch == '{') {
                    depth++;
                } else if (ch == ']' || ch == '}') {
                    if (--depth == 0) {
                        return j + 1;
                    }
                }
            }
            return s.length();
        }
        int j = i;
        while (j < s.length() && ",}]".indexOf(s.charAt(j)) < 0) {
            j++;
        }
        return j;
    }
}
