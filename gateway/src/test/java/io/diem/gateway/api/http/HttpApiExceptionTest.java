package io.diem.gateway.api.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.error.GatewayException.Kind;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.FullHttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Each domain refusal answered as OpenAI clients expect: status, type, code, param, figures, Retry-After. */
class HttpApiExceptionTest {

    /** {status, body, retry-after} of the answer to a refusal, written to an in-memory channel. */
    private static Object[] answer(GatewayException e) {
        EmbeddedChannel channel = new EmbeddedChannel();
        HttpExchange x = new HttpExchange(channel, true, () -> {}, "POST", "/v1/chat/completions", null, "{}");
        OpenAiApi.fail(x, HttpApiException.of(e));
        FullHttpResponse r = channel.readOutbound();
        try {
            JsonObject body = JsonParser.parseString(r.content().toString(StandardCharsets.UTF_8)).getAsJsonObject().getAsJsonObject("error");
            return new Object[] {r.status().code(), body, r.headers().get("retry-after")};
        } finally {
            r.release();
        }
    }

    @Test
    void concurrencyIs429WithRetryAfter() {
        Object[] a = answer(new GatewayException(Kind.RESOURCE_EXHAUSTED, "key k already has 16 calls in flight", "KEY_CONCURRENCY",
                Map.of("limit", "16")));
        assertThat(a[0]).isEqualTo(429);
        assertThat(((JsonObject) a[1]).get("type").getAsString()).isEqualTo("rate_limit_error");
        assertThat(((JsonObject) a[1]).get("code").getAsString()).isEqualTo("concurrency_limit");
        assertThat(a[2]).isEqualTo("1");
    }

    @Test
    void creditIs402WithTheFiguresAndNoRetryAfter() {
        Object[] a = answer(new GatewayException(Kind.RESOURCE_EXHAUSTED, "not enough credit", "INSUFFICIENT_CREDIT",
                Map.of("needed_micro_usd", "250000", "remaining_micro_usd", "100000", "resets_at", "2026-12-03T00:00:00Z")));
        assertThat(a[0]).isEqualTo(402);
        JsonObject e = (JsonObject) a[1];
        assertThat(e.get("code").getAsString()).isEqualTo("insufficient_credit");
        assertThat(e.get("needed_micro_usd").getAsString()).isEqualTo("250000");
        assertThat(e.get("remaining_micro_usd").getAsString()).isEqualTo("100000");
        assertThat(e.get("param").isJsonNull()).isTrue();
        assertThat(a[2]).isNull();
    }

    @Test
    void invalidFieldsNameTheParamInThisApisWords() {
        Object[] a = answer(new GatewayException(Kind.INVALID_ARGUMENT, "chat must have 1..256 messages, got 300", "INVALID_FIELD",
                Map.of("field", "chat")));
        assertThat(a[0]).isEqualTo(400);
        assertThat(((JsonObject) a[1]).get("param").getAsString()).isEqualTo("messages");
        assertThat(((JsonObject) a[1]).get("type").getAsString()).isEqualTo("invalid_request_error");
    }

    @Test
    void everyKindMapsToAClientOrAvailabilityStatusNever500() {
        for (Kind k : Kind.values()) {
            int status = (int) answer(new GatewayException(k, "m"))[0];
            assertThat(status).as(k.name()).isBetween(400, 504).isNotEqualTo(500);
        }
        assertThat(answer(new GatewayException(Kind.UNAVAILABLE, "no node"))[0]).isEqualTo(503);
        assertThat(answer(new GatewayException(Kind.UNAVAILABLE, "no node"))[2]).isEqualTo("1");
        assertThat(answer(new GatewayException(Kind.NOT_FOUND, "model 'x' is not offered"))[0]).isEqualTo(404);
        assertThat(answer(new GatewayException(Kind.UNAUTHENTICATED, "bad key"))[0]).isEqualTo(401);
    }
}
