package io.diem.gateway.api.http;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.diem.gateway.call.Dispatcher;
import io.diem.gateway.call.GenerateCalls;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerViews;
import io.diem.gateway.metrics.GatewayMetrics;
import io.diem.gateway.nodes.NodePicker;
import io.diem.v1.TokenDelta;
import io.grpc.Context;
import io.grpc.Status;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The OpenAI-style routes: {@code GET /v1/models}, {@code GET /v1/models/{id}},
 * {@code POST /v1/chat/completions}, {@code POST /v1/completions}. Each request is authenticated by
 * {@code Authorization: Bearer <key>} the way gRPC calls are, and a completion runs the one call path
 * of both APIs ({@link GenerateCalls}): same admission, dispatch, metering and booking. A connection
 * that closes while its call runs cancels it; the caller is charged only for what was delivered.
 * Runs on worker threads, never on an event loop (the ledger blocks).
 */
final class OpenAiApi {

    private static final Logger LOG = Logger.getLogger(OpenAiApi.class.getName());
    private static final String BEARER = "Bearer ";
    private static final BigDecimal MICROS = BigDecimal.valueOf(1_000_000);
    private static final Throwable HUNG_UP = Status.CANCELLED.withDescription("the HTTP client closed the connection")
            .asRuntimeException();

    private final Ledger ledger;
    private final NodePicker picker;
    private final GenerateCalls calls;
    private final GatewayMetrics metrics;

    OpenAiApi(Ledger ledger, NodePicker picker, GenerateCalls calls, GatewayMetrics metrics) {
        this.ledger = ledger;
        this.picker = picker;
        this.calls = calls;
        this.metrics = metrics;
    }

    void handle(HttpExchange x) {
        String path = x.path.endsWith("/") && x.path.length() > 1 ? x.path.substring(0, x.path.length() - 1) : x.path;
        String route = switch (path) {
            case "/v1/models" -> "models";
            case "/v1/chat/completions" -> "chat_completions";
            case "/v1/completions" -> "completions";
            default -> path.startsWith("/v1/models/") && path.length() > "/v1/models/".length() ? "model" : "unknown";
        };
        try {
            switch (route) {
                case "models" -> {
                    requireMethod(x, "GET");
                    models(x, authenticate(x), null);
                }
                case "model" -> {
                    requireMethod(x, "GET");
                    models(x, authenticate(x), path.substring("/v1/models/".length()));
                }
                case "chat_completions", "completions" -> {
                    requireMethod(x, "POST");
                    complete(x, authenticate(x), route.equals("chat_completions"));
                }
                default -> throw new HttpApiException(HttpResponseStatus.NOT_FOUND, "invalid_request_error", "unknown_url", null,
                        "unknown path " + x.method + " " + x.path + "; this gateway serves GET /v1/models, POST /v1/chat/completions "
                        + "and POST /v1/completions");
            }
        } catch (HttpApiException e) {
            fail(x, e);
        } catch (GatewayException e) {
            fail(x, HttpApiException.of(e));
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "HTTP " + x.method + " " + x.path + " failed unexpectedly", e);
            fail(x, new HttpApiException(HttpResponseStatus.INTERNAL_SERVER_ERROR, "server_error", "internal",
                    null, "the gateway failed to answer (logged on the gateway); retry"));
        } finally {
            metrics.httpRequest(route, x.status());
        }
    }

    private static void requireMethod(HttpExchange x, String method) {
        if (!x.method.equals(method)) {
            x.header("allow", method);
            throw new HttpApiException(HttpResponseStatus.METHOD_NOT_ALLOWED, "invalid_request_error", "method_not_allowed", null,
                    x.path + " takes " + method + ", not " + x.method);
        }
    }

    /** The caller's key (same answer for missing, unknown and revoked keys); the balance headers set from its account. */
    private LedgerViews.ApiKey authenticate(HttpExchange x) {
        String header = x.authorization;
        String secret = header != null && header.regionMatches(true, 0, BEARER, 0, BEARER.length())
                ? header.substring(BEARER.length()).strip() : "";
        Optional<LedgerViews.ApiKey> key;
        try {
            key = ledger.authenticate(secret);
        } catch (GatewayException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new HttpApiException(HttpResponseStatus.SERVICE_UNAVAILABLE, "service_unavailable", "ledger_unavailable", null,
                    "cannot check the API key: the ledger is unavailable; retry");
        }
        if (key.isEmpty()) {
            throw new HttpApiException(HttpResponseStatus.UNAUTHORIZED, "authentication_error", "invalid_api_key", null,
                    "missing or invalid API key (send 'Authorization: Bearer <key>')");
        }
        balanceHeaders(x, ledger.balance(key.get().accountId()));
        return key.get();
    }

    /**
     * The account's credit for today, in the spirit of Venice's {@code x-venice-balance-*}: remaining in
     * USD (6 decimals) and in µUSD, allowance, spent, held by calls in flight, and when it resets.
     */
    static void balanceHeaders(HttpExchange x, LedgerViews.Balance b) {
        x.header("x-diem-balance-usd", BigDecimal.valueOf(b.remaining()).divide(MICROS).setScale(6).toPlainString());
        x.header("x-diem-balance-remaining-micro-usd", b.remaining());
        x.header("x-diem-balance-allowance-micro-usd", b.allowance());
        x.header("x-diem-balance-spent-micro-usd", b.spent());
        x.header("x-diem-balance-reserved-micro-usd", b.reserved());
        x.header("x-diem-balance-resets-at", b.resetsAt().toString());
    }

    private void models(HttpExchange x, LedgerViews.ApiKey key, String only) {
        JsonArray data = new JsonArray();
        picker.availableModels().forEach((name, m) -> {
            if (only != null && !only.equals(name)) {
                return;
            }
            ledger.price(name).ifPresent(p -> {
                JsonObject o = new JsonObject();
                o.addProperty("id", name);
                o.addProperty("object", "model");
                o.addProperty("created", 0);
                o.addProperty("owned_by", "diem-compute");
                o.addProperty("context_length", m.contextLength());
                o.addProperty("nodes", m.nodes());
                JsonObject price = new JsonObject();
                price.addProperty("prompt_micro_usd_per_million", p.promptPerMillion());
                price.addProperty("completion_micro_usd_per_million", p.completionPerMillion());
                price.addProperty("micro_usd_per_gpu_second", p.perGpuSecond());
                o.add("pricing", price);
                data.add(o);
            });
        });
        if (only != null) {
            if (data.isEmpty()) {
                throw new HttpApiException(HttpResponseStatus.NOT_FOUND, "invalid_request_error", "model_not_found", "model",
                        "model '" + only + "' is not served right now (no price, or no healthy node); see GET /v1/models");
            }
            x.respond(HttpResponseStatus.OK, data.get(0).getAsJsonObject());
            return;
        }
        JsonObject list = new JsonObject();
        list.addProperty("object", "list");
        list.add("data", data);
        x.respond(HttpResponseStatus.OK, list);
    }

    private void complete(HttpExchange x, LedgerViews.ApiKey key, boolean chat) {
        long start = System.nanoTime();
        OpenAiRequests.Parsed parsed = OpenAiRequests.parse(x.body, chat);
        OpenAiResponses.Identity id = new OpenAiResponses.Identity((chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID(),
                Instant.now().getEpochSecond(), parsed.request().getModel(), chat);
        StringBuilder text = new StringBuilder();
        Dispatcher.Caller sink = new Dispatcher.Caller() {
            @Override
            public void send(TokenDelta delta) {
                if (!parsed.stream()) {
                    text.append(delta.getText());
                    return;
                }
                startStream(x, id, parsed);
                if (!delta.getText().isEmpty()) {
                    x.event(OpenAiResponses.chunk(id, null, delta.getText(), null, parsed.includeUsage()).toString());
                }
            }

            @Override
            public boolean cancelled() {
                return !x.channel().isActive();
            }
        };
        Dispatcher.Completed done;
        Context.CancellableContext call = Context.ROOT.withCancellation();
        ChannelFutureListener hangUp = f -> call.cancel(HUNG_UP); // the node stops; the charge is what was delivered
        x.channel().closeFuture().addListener(hangUp);
        try {
            done = call.call(() -> calls.run(parsed.request(), key, start, sink));
        } catch (GatewayException e) {
            HttpApiException h = HttpApiException.of(e);
            throw "max_tokens".equals(h.param) ? HttpApiException.invalid(parsed.maxTokensField(), e.getMessage()) : h;
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) { // Context.call declares Exception; calls.run throws none checked
            throw new IllegalStateException(e);
        } finally {
            x.channel().closeFuture().removeListener(hangUp);
            call.cancel(HUNG_UP); // no-op once the relay is closed; releases the context's listeners otherwise
        }
        if (parsed.stream()) {
            startStream(x, id, parsed);
            x.event(OpenAiResponses.chunk(id, null, null, OpenAiResponses.finishReason(done.summary().getFinishReason()),
                    parsed.includeUsage()).toString());
            if (parsed.includeUsage()) {
                x.event(OpenAiResponses.usageChunk(id, done).toString());
            }
            x.event("[DONE]");
            x.endStream();
        } else {
            balanceHeaders(x, done.balanceAfter());
            x.respond(HttpResponseStatus.OK, OpenAiResponses.completion(id, text.toString(), done));
        }
    }

    /** Opens the event stream once: 200, headers, and (chat) the role chunk. */
    private static void startStream(HttpExchange x, OpenAiResponses.Identity id, OpenAiRequests.Parsed parsed) {
        if (x.streaming()) {
            return;
        }
        x.startStream();
        if (id.chat()) {
            x.event(OpenAiResponses.chunk(id, "assistant", "", null, parsed.includeUsage()).toString());
        }
    }

    /** Answers with the error, or, once a stream has started, ends it with an error event (as OpenAI does). */
    static void fail(HttpExchange x, HttpApiException e) {
        if (!x.channel().isActive()) {
            return;
        }
        if (e.status.code() == 429 || e.status.code() == 503) {
            x.header("retry-after", "1");
        }
        if (x.streaming()) {
            x.event(OpenAiResponses.error(e).toString());
            x.endStream();
        } else {
            x.respond(e.status, OpenAiResponses.error(e));
        }
    }
}
