package io.diem.gateway.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.diem.gateway.ledger.LedgerViews;
import io.diem.gateway.ledger.Pricing;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The OpenAI-style HTTP API against a real gateway (its Netty HTTP port on loopback) and a real agent
 * process: every endpoint, the response and chunk shapes, every error status, balance headers, and a
 * dropped connection cancelling its job.
 */
class HttpApiTest {

    private static final Pricing PRICE = new Pricing("tiny", 100_000, 400_000, 500);

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private HttpResponse<String> get(LocalCluster c, String path, String key) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + c.gateway.httpPort() + path)).GET();
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(LocalCluster c, String path, String key, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + c.gateway.httpPort() + path))
                .timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonObject json(HttpResponse<String> r) {
        return JsonParser.parseString(r.body()).getAsJsonObject();
    }

    private static JsonObject error(HttpResponse<String> r, int status) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        assertThat(r.headers().firstValue("content-type")).hasValue("application/json");
        JsonObject e = json(r).getAsJsonObject("error");
        assertThat(e.keySet()).contains("message", "type", "param", "code");
        assertThat(e.get("message").getAsString()).isNotBlank();
        return e;
    }

    /** The JSON objects of an SSE body; the last line must be {@code data: [DONE]}. */
    private static List<JsonObject> events(HttpResponse<String> r) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type").orElse("")).startsWith("text/event-stream");
        List<JsonObject> out = new ArrayList<>();
        String[] blocks = r.body().split("\n\n");
        assertThat(blocks[blocks.length - 1]).isEqualTo("data: [DONE]");
        for (int i = 0; i < blocks.length - 1; i++) {
            assertThat(blocks[i]).startsWith("data: ");
            out.add(JsonParser.parseString(blocks[i].substring("data: ".length())).getAsJsonObject());
        }
        return out;
    }

    private static long cost(JsonObject usage, JsonObject diem) {
        return PRICE.chargeMicroUsd(usage.get("prompt_tokens").getAsLong(), usage.get("completion_tokens").getAsLong(),
                diem.get("compute_micros").getAsLong());
    }

    @Test
    void everyEndpointAnswersInOpenAisShapeAndChargesWhatItShows() throws Exception {
        try (LocalCluster c = new LocalCluster(dir, io.diem.gateway.store.Db.h2Url(dir.resolve("ledger")), Duration.ofMinutes(5), 3)) {
            c.startAgent("a1");
            c.approveWhenRegistered(c.nodeIdOf("a1"));
            c.ledger.setPrice(PRICE);
            String[] app = c.stakedAccount(10_000_000); // $10/day

            // Models, with balance headers; one model by id; an unknown one is 404.
            HttpResponse<String> models = get(c, "/v1/models", app[1]);
            assertThat(models.statusCode()).isEqualTo(200);
            JsonObject list = json(models);
            assertThat(list.get("object").getAsString()).isEqualTo("list");
            JsonObject tiny = list.getAsJsonArray("data").get(0).getAsJsonObject();
            assertThat(tiny.get("id").getAsString()).isEqualTo("tiny");
            assertThat(tiny.get("object").getAsString()).isEqualTo("model");
            assertThat(models.headers().firstValue("x-diem-balance-usd")).hasValue("10.000000");
            assertThat(models.headers().firstValue("x-diem-balance-remaining-micro-usd")).hasValue("10000000");
            assertThat(models.headers().firstValue("x-diem-balance-resets-at").orElseThrow()).endsWith("T00:00:00Z");
            assertThat(json(get(c, "/v1/models/tiny", app[1])).get("id").getAsString()).isEqualTo("tiny");
            assertThat(error(get(c, "/v1/models/nope", app[1]), 404).get("code").getAsString()).isEqualTo("model_not_found");

            // A chat completion, not streamed.
            HttpResponse<String> chat = post(c, "/v1/chat/completions", app[1], """
                    {"model": "tiny", "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
                     "max_tokens": 5, "temperature": 0.8, "seed": 3, "user": "u-1", "metadata": {"x": "harmless"}}""");
            assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
            JsonObject cc = json(chat);
            assertThat(cc.get("object").getAsString()).isEqualTo("chat.completion");
            assertThat(cc.get("id").getAsString()).startsWith("chatcmpl-");
            assertThat(cc.get("model").getAsString()).isEqualTo("tiny");
            assertThat(cc.get("created").getAsLong()).isPositive();
            JsonObject choice = cc.getAsJsonArray("choices").get(0).getAsJsonObject();
            assertThat(choice.getAsJsonObject("message").get("role").getAsString()).isEqualTo("assistant");
            assertThat(choice.get("finish_reason").getAsString()).isIn("stop", "length");
            JsonObject usage = cc.getAsJsonObject("usage");
            assertThat(usage.get("completion_tokens").getAsInt()).isBetween(1, 5);
            assertThat(usage.get("total_tokens").getAsInt())
                    .isEqualTo(usage.get("prompt_tokens").getAsInt() + usage.get("completion_tokens").getAsInt());
            long chatCost = cost(usage, cc.getAsJsonObject("diem"));
            assertThat(cc.getAsJsonObject("diem").get("cost_micro_usd").getAsLong()).isEqualTo(chatCost);
            assertThat(chat.headers().firstValue("x-diem-balance-remaining-micro-usd")).hasValue(Long.toString(10_000_000 - chatCost));

            // A streamed completion with usage: chunks, then finish, then the usage chunk, then [DONE].
            List<JsonObject> chunks = events(post(c, "/v1/completions", app[1], """
                    {"model": "tiny", "prompt": "The node agent", "max_tokens": 6, "stream": true,
                     "stream_options": {"include_usage": true}, "temperature": 0, "stop": ["zzzz"]}"""));
            StringBuilder text = new StringBuilder();
            for (JsonObject ch : chunks.subList(0, chunks.size() - 1)) {
                assertThat(ch.get("object").getAsString()).isEqualTo("text_completion");
                assertThat(ch.get("id").getAsString()).isEqualTo(chunks.get(0).get("id").getAsString());
                assertThat(ch.get("usage").isJsonNull()).isTrue();
                text.append(ch.getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString());
            }
            JsonObject finish = chunks.get(chunks.size() - 2).getAsJsonArray("choices").get(0).getAsJsonObject();
            assertThat(finish.get("finish_reason").getAsString()).isIn("stop", "length");
            JsonObject last = chunks.get(chunks.size() - 1);
            assertThat(last.getAsJsonArray("choices")).isEmpty();
            long streamCost = cost(last.getAsJsonObject("usage"), last.getAsJsonObject("diem"));
            assertThat(last.getAsJsonObject("usage").get("completion_tokens").getAsInt()).isBetween(1, 6);

            // The same completion, not streamed and greedy: the same text.
            JsonObject again = json(post(c, "/v1/completions", app[1], """
                    {"model": "tiny", "prompt": ["The node agent"], "max_tokens": 6, "temperature": 0, "stop": "zzzz"}"""));
            assertThat(again.get("object").getAsString()).isEqualTo("text_completion");
            assertThat(again.getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString()).isEqualTo(text.toString());
            long againCost = cost(again.getAsJsonObject("usage"), again.getAsJsonObject("diem"));

            // A streamed chat opens with the assistant role and ends with a finish reason and [DONE].
            List<JsonObject> chatChunks = events(post(c, "/v1/chat/completions", app[1], """
                    {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_completion_tokens": 4, "stream": true}"""));
            JsonObject first = chatChunks.get(0);
            assertThat(first.get("object").getAsString()).isEqualTo("chat.completion.chunk");
            assertThat(first.getAsJsonArray("choices").get(0).getAsJsonObject().getAsJsonObject("delta").get("role").getAsString())
                    .isEqualTo("assistant");
            assertThat(first.has("usage")).isFalse();
            JsonObject end = chatChunks.get(chatChunks.size() - 1).getAsJsonArray("choices").get(0).getAsJsonObject();
            assertThat(end.get("finish_reason").getAsString()).isIn("stop", "length");
            assertThat(end.getAsJsonObject("delta").keySet()).isEmpty();

            // Every charge booked equals what the responses showed.
            await().atMost(Duration.ofSeconds(20)).until(() -> c.ledger.usage(app[0], 10, "").size() == 4);
            long booked = c.ledger.usage(app[0], 10, "").stream().mapToLong(LedgerViews.UsageRecord::cost).sum();
            long shownWithoutLastChat = chatCost + streamCost + againCost;
            assertThat(booked).isGreaterThanOrEqualTo(shownWithoutLastChat);
            await().atMost(Duration.ofSeconds(20)).until(() -> c.ledger.balance(app[0]).reserved() == 0);
            assertThat(c.ledger.balance(app[0]).spent()).isEqualTo(booked);
        }
    }

    @Test
    void errorsComeAsOpenAiClientsExpectThem() throws Exception {
        try (LocalCluster c = new LocalCluster(dir, io.diem.gateway.store.Db.h2Url(dir.resolve("ledger")), Duration.ofMinutes(5), 3)) {
            c.startAgent("a1");
            c.approveWhenRegistered(c.nodeIdOf("a1"));
            c.ledger.setPrice(new Pricing("tiny", 100_000, 400_000, 50_000)); // a call's worst case: 5 s of compute, $0.25
            c.ledger.setPrice(new Pricing("ghost", 1, 1, 1)); // priced, but no node serves it
            String[] app = c.stakedAccount(10_000_000);
            String key = app[1];
            String ok = "{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 2";

            assertThat(error(get(c, "/v1/models", null), 401).get("code").getAsString()).isEqualTo("invalid_api_key");
            assertThat(error(get(c, "/v1/models", "dk_forged"), 401).get("type").getAsString()).isEqualTo("authentication_error");
            assertThat(error(post(c, "/v1/chat/completions", key, "{not json"), 400).get("type").getAsString())
                    .isEqualTo("invalid_request_error");
            error(post(c, "/v1/chat/completions", key, "[1, 2]"), 400);
            error(post(c, "/v1/chat/completions", key, "[".repeat(100_000)), 400);
            assertThat(error(post(c, "/v1/chat/completions", key, ok + ", \"n\": 2}"), 400).get("param").getAsString()).isEqualTo("n");
            assertThat(error(post(c, "/v1/chat/completions", key, ok + ", \"tools\": [{\"type\": \"function\"}]}"), 400)
                    .get("param").getAsString()).isEqualTo("tools");
            assertThat(error(post(c, "/v1/chat/completions", key, ok + ", \"temperature\": 3}"), 400).get("param").getAsString())
                    .isEqualTo("temperature");
            assertThat(error(post(c, "/v1/chat/completions", key, ok + ", \"max_tokens\": \"many\"}"), 400).get("param")
                    .getAsString()).isEqualTo("max_tokens");
            assertThat(error(post(c, "/v1/chat/completions", key, ok.replace("\"max_tokens\": 2", "\"max_completion_tokens\": 100000")
                    + "}"), 400).get("param").getAsString()).isEqualTo("max_completion_tokens");
            assertThat(error(post(c, "/v1/chat/completions", key, ok.replace("\"user\"", "\"tool\"") + "}"), 400).get("param")
                    .getAsString()).isEqualTo("messages[0].role");
            assertThat(error(post(c, "/v1/chat/completions", key, "{\"model\": \"tiny\"}"), 400).get("param").getAsString())
                    .isEqualTo("messages");
            assertThat(error(post(c, "/v1/completions", key, "{\"model\": \"tiny\", \"prompt\": [\"a\", \"b\"]}"), 400)
                    .get("param").getAsString()).isEqualTo("prompt");
            assertThat(error(post(c, "/v1/chat/completions", key, ok.replace("tiny", "nope") + "}"), 404).get("code").getAsString())
                    .isEqualTo("model_not_found");
            HttpResponse<String> noNode = post(c, "/v1/chat/completions", key, ok.replace("tiny", "ghost") + "}");
            error(noNode, 503);
            assertThat(noNode.headers().firstValue("retry-after")).hasValue("1");
            error(get(c, "/v1/chat/completions", key), 405);
            error(get(c, "/v2/anything", key), 404);
            String huge = "{\"model\": \"tiny\", \"prompt\": \"" + "a".repeat(5 << 20) + "\"}";
            assertThat(error(post(c, "/v1/completions", key, huge), 413).get("code").getAsString()).isEqualTo("request_too_large");
            HttpResponse<String> bigHeader = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + c.gateway.httpPort()
                    + "/v1/models")).header("Authorization", "Bearer " + "k".repeat(20_000)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            error(bigHeader, 431);

            // Credit gone: 402 with the figures, nothing dispatched.
            String[] poor = c.stakedAccount(100_000); // $0.10/day, less than one worst case at these prices
            JsonObject paymentRequired = error(post(c, "/v1/chat/completions", poor[1], ok + "}"), 402);
            assertThat(paymentRequired.get("code").getAsString()).isEqualTo("insufficient_credit");
            assertThat(paymentRequired.get("remaining_micro_usd").getAsLong()).isEqualTo(100_000);
            assertThat(paymentRequired.get("needed_micro_usd").getAsLong()).isGreaterThan(100_000);
            assertThat(paymentRequired.get("message").getAsString()).contains("100000 µUSD remain");
            assertThat(c.ledger.usage(poor[0], 10, "")).isEmpty();

            // None of that was a server error.
            assertThat(c.gateway.metrics().registry().scrape()).doesNotContain("status=\"500\"");
        }
    }

    @Test
    void aConnectionDroppedMidStreamCancelsTheJobAndChargesWhatWasDelivered() throws Exception {
        try (LocalCluster c = new LocalCluster(dir, io.diem.gateway.store.Db.h2Url(dir.resolve("ledger")), Duration.ofMinutes(5), 3)) {
            c.startAgent("a1");
            c.approveWhenRegistered(c.nodeIdOf("a1"));
            c.price(0, 1_000_000, 0);
            String[] app = c.stakedAccount(10_000_000);
            String body = "{\"model\": \"tiny\", \"prompt\": \"The node agent\", \"max_tokens\": 200, \"temperature\": 0.8, "
                    + "\"seed\": 3, \"stream\": true}";
            try (Socket s = new Socket("127.0.0.1", c.gateway.httpPort())) {
                OutputStream out = s.getOutputStream();
                out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + app[1]
                        + "\r\nContent-Type: application/json\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length
                        + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
                out.flush();
                InputStream in = s.getInputStream();
                StringBuilder seen = new StringBuilder();
                while (!seen.toString().contains("data: {")) {
                    int b = in.read();
                    assertThat(b).as("the stream's first event arrives").isNotNegative();
                    seen.append((char) b);
                }
                assertThat(seen.toString()).startsWith("HTTP/1.1 200");
            } // the client hangs up mid-stream
            await().atMost(Duration.ofSeconds(20)).until(() -> c.ledger.usage(app[0], 10, "").size() == 1);
            LedgerViews.UsageRecord booked = c.ledger.usage(app[0], 10, "").get(0);
            assertThat(booked.finishReason()).isEqualTo("cancelled");
            assertThat(booked.completionTokens()).isLessThan(200);
            // 1 µUSD per completion token: charged for what the gateway relayed before the hang-up, at least the
            // token the client saw, at most what the node generated.
            assertThat(booked.cost()).isBetween(1L, booked.completionTokens());
        }
    }
}
