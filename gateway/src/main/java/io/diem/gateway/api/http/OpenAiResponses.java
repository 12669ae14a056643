package io.diem.gateway.api.http;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import io.diem.gateway.call.Dispatcher;
import io.diem.v1.ExecuteSummary;
import io.diem.v1.FinishReason;

/**
 * The JSON bodies of the HTTP API, shaped as OpenAI's: {@code chat.completion},
 * {@code chat.completion.chunk}, {@code text_completion}, and the error object. Beside OpenAI's fields
 * a response carries {@code diem} (job id, node id, compute time, exact cost in µUSD); clients that do
 * not know it ignore it.
 */
final class OpenAiResponses {

    private OpenAiResponses() {}

    /** One response's identity: the same id, creation time and model on every chunk of a stream. */
    record Identity(String id, long createdEpochSeconds, String model, boolean chat) {

        String object(boolean chunk) {
            return chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
        }
    }

    /** OpenAI's finish reasons: the length family is "length", everything else that ends a stream normally "stop". */
    static String finishReason(FinishReason r) {
        return switch (r) {
            case FINISH_REASON_LENGTH, FINISH_REASON_TOKEN_LIMIT, FINISH_REASON_GPU_TIME_LIMIT -> "length";
            default -> "stop";
        };
    }

    static JsonObject usage(ExecuteSummary s) {
        JsonObject u = new JsonObject();
        u.addProperty("prompt_tokens", Integer.toUnsignedLong(s.getPromptTokens()));
        u.addProperty("completion_tokens", Integer.toUnsignedLong(s.getCompletionTokens()));
        u.addProperty("total_tokens", Integer.toUnsignedLong(s.getPromptTokens()) + Integer.toUnsignedLong(s.getCompletionTokens()));
        return u;
    }

    /** What diem-compute adds: the job, the node, metered compute and the exact cost. */
    static JsonObject diem(Dispatcher.Completed done) {
        JsonObject d = new JsonObject();
        d.addProperty("job_id", done.jobId());
        d.addProperty("node_id", done.nodeId());
        d.addProperty("compute_micros", done.summary().getGpuMicros());
        d.addProperty("compute_kind", done.summary().getComputeKind().name().replace("COMPUTE_KIND_", "").toLowerCase());
        d.addProperty("cost_micro_usd", done.costMicroUsd());
        d.addProperty("finish_reason", done.summary().getFinishReason().name().replace("FINISH_REASON_", "").toLowerCase());
        return d;
    }

    private static JsonObject envelope(Identity id, boolean chunk) {
        JsonObject o = new JsonObject();
        o.addProperty("id", id.id());
        o.addProperty("object", id.object(chunk));
        o.addProperty("created", id.createdEpochSeconds());
        o.addProperty("model", id.model());
        return o;
    }

    /** The whole answer of a call that did not stream. */
    static JsonObject completion(Identity id, String text, Dispatcher.Completed done) {
        JsonObject o = envelope(id, false);
        JsonObject choice = new JsonObject();
        choice.addProperty("index", 0);
        if (id.chat()) {
            JsonObject message = new JsonObject();
            message.addProperty("role", "assistant");
            message.addProperty("content", text);
            message.add("refusal", JsonNull.INSTANCE);
            choice.add("message", message);
        } else {
            choice.addProperty("text", text);
        }
        choice.add("logprobs", JsonNull.INSTANCE);
        choice.addProperty("finish_reason", finishReason(done.summary().getFinishReason()));
        JsonArray choices = new JsonArray();
        choices.add(choice);
        o.add("choices", choices);
        o.add("usage", usage(done.summary()));
        o.add("diem", diem(done));
        return o;
    }

    /**
     * One streamed chunk with one choice: {@code text} as the delta (chat) or the text (completions),
     * {@code role} on a chat stream's first chunk, {@code finishReason} on its last (null before).
     */
    static JsonObject chunk(Identity id, String role, String text, String finishReason, boolean includeUsage) {
        JsonObject o = envelope(id, true);
        JsonObject choice = new JsonObject();
        choice.addProperty("index", 0);
        if (id.chat()) {
            JsonObject delta = new JsonObject();
            if (role != null) {
                delta.addProperty("role", role);
            }
            if (text != null) {
                delta.addProperty("content", text);
            }
            choice.add("delta", delta);
        } else {
            choice.addProperty("text", text == null ? "" : text);
        }
        choice.add("logprobs", JsonNull.INSTANCE);
        if (finishReason == null) {
            choice.add("finish_reason", JsonNull.INSTANCE);
        } else {
            choice.addProperty("finish_reason", finishReason);
        }
        JsonArray choices = new JsonArray();
        choices.add(choice);
        o.add("choices", choices);
        if (includeUsage) {
            o.add("usage", JsonNull.INSTANCE); // as OpenAI: null on every chunk but the usage chunk
        }
        return o;
    }

    /** The usage chunk that ends a stream with {@code stream_options.include_usage}: no choices, the usage. */
    static JsonObject usageChunk(Identity id, Dispatcher.Completed done) {
        JsonObject o = envelope(id, true);
        o.add("choices", new JsonArray());
        o.add("usage", usage(done.summary()));
        o.add("diem", diem(done));
        return o;
    }

    static JsonObject error(HttpApiException e) {
        JsonObject err = new JsonObject();
        err.addProperty("message", e.getMessage());
        err.addProperty("type", e.type);
        if (e.param == null) {
            err.add("param", JsonNull.INSTANCE);
        } else {
            err.addProperty("param", e.param);
        }
        err.addProperty("code", e.code);
        e.details.forEach(err::addProperty);
        JsonObject o = new JsonObject();
        o.add("error", err);
        return o;
    }
}
