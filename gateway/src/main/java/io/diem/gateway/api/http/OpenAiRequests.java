package io.diem.gateway.api.http;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import io.diem.v1.ChatMessage;
import io.diem.v1.ChatMessages;
import io.diem.v1.GenerateRequest;
import io.diem.v1.SamplingParams;
import java.math.BigDecimal;
import java.util.Map;
import java.util.Set;

/**
 * Turns an OpenAI-style request body into the {@link GenerateRequest} both APIs run. Every field the
 * SDKs send is either mapped, checked and refused with a 400 naming it, or ignored because it does
 * not change what is generated (as OpenAI ignores unknown fields). Range checks shared with gRPC
 * (temperature, top_p, max_tokens against the limits, stop lengths) happen once, in admission.
 */
final class OpenAiRequests {

    /** What a parsed body asks for beyond the generation itself. */
    record Parsed(GenerateRequest request, boolean chat, boolean stream, boolean includeUsage, String maxTokensField) {}

    /** Fields that would change the result and are not supported: present with a non-default value → 400. */
    private static final Set<String> UNSUPPORTED = Set.of("tools", "tool_choice", "functions", "function_call", "logprobs",
            "top_logprobs", "logit_bias", "presence_penalty", "frequency_penalty", "echo", "best_of", "suffix", "audio",
            "prediction", "response_format", "modalities", "web_search_options", "min_p", "repetition_penalty");

    /** Roles OpenAI clients send that map to ours; "developer" is OpenAI's newer name for "system". */
    private static final Map<String, String> ROLES = Map.of("system", "system", "developer", "system", "user", "user",
            "assistant", "assistant");

    private OpenAiRequests() {}

    static Parsed parse(String body, boolean chat) {
        JsonObject o;
        try {
            JsonElement e = JsonParser.parseString(body);
            if (!e.isJsonObject()) {
                throw HttpApiException.invalid(null, "the request body must be a JSON object");
            }
            o = e.getAsJsonObject();
        } catch (HttpApiException e) {
            throw e;
        } catch (RuntimeException e) { // gson: syntax, nesting depth, numbers
            throw HttpApiException.invalid(null, "the request body is not valid JSON: " + firstLine(e.getMessage()));
        }
        for (String field : UNSUPPORTED) {
            if (o.has(field) && !isDefault(field, o.get(field))) {
                throw HttpApiException.invalid(field, "'" + field + "' is not supported by this server; remove it");
            }
        }
        if (present(o, "n") && !(isInteger(o.get("n")) && o.get("n").getAsBigDecimal().compareTo(BigDecimal.ONE) == 0)) {
            throw HttpApiException.invalid("n", "only n = 1 is supported (one choice per request), got " + o.get("n"));
        }
        GenerateRequest.Builder r = GenerateRequest.newBuilder().setModel(requiredString(o, "model"));
        if (chat) {
            r.setChat(messages(o));
        } else {
            r.setPrompt(prompt(o));
        }
        SamplingParams.Builder s = SamplingParams.newBuilder();
        s.setTemperature((float) number(o, "temperature", 1.0)); // OpenAI's default is 1, not greedy
        s.setTopP((float) number(o, "top_p", 1.0));
        if (present(o, "top_k")) {
            s.setTopK((int) integer(o, "top_k", 0, Integer.MAX_VALUE));
        }
        String tokensField = present(o, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        if (present(o, tokensField)) {
            long max = integer(o, tokensField, 1, Integer.MAX_VALUE);
            s.setMaxTokens((int) max);
        }
        if (present(o, "seed")) {
            s.setSeed(integer(o, "seed", Long.MIN_VALUE, Long.MAX_VALUE));
        }
        if (present(o, "stop")) {
            JsonElement stop = o.get("stop");
            if (stop.isJsonPrimitive() && stop.getAsJsonPrimitive().isString()) {
                s.addStop(stop.getAsString());
            } else if (stop.isJsonArray()) {
                for (JsonElement e : stop.getAsJsonArray()) {
                    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
                        throw HttpApiException.invalid("stop", "'stop' must be a string or a list of strings");
                    }
                    s.addStop(e.getAsString());
                }
            } else {
                throw HttpApiException.invalid("stop", "'stop' must be a string or a list of strings");
            }
        }
        r.setSampling(s);
        boolean stream = bool(o, "stream");
        boolean includeUsage = false;
        if (present(o, "stream_options")) {
            if (!o.get("stream_options").isJsonObject()) {
                throw HttpApiException.invalid("stream_options", "'stream_options' must be an object");
            }
            if (!stream) {
                throw HttpApiException.invalid("stream_options", "'stream_options' is allowed only with 'stream': true");
            }
            includeUsage = bool(o.getAsJsonObject("stream_options"), "include_usage");
        }
        if (present(o, "user") && !(o.get("user").isJsonPrimitive() && o.get("user").getAsJsonPrimitive().isString())) {
            throw HttpApiException.invalid("user", "'user' must be a string");
        }
        return new Parsed(r.build(), chat, stream, includeUsage, tokensField);
    }

    private static ChatMessages messages(JsonObject o) {
        if (!present(o, "messages") || !o.get("messages").isJsonArray()) {
            throw HttpApiException.invalid("messages", "'messages' is required: a list of {\"role\", \"content\"} objects");
        }
        JsonArray list = o.getAsJsonArray("messages");
        ChatMessages.Builder b = ChatMessages.newBuilder();
        for (int i = 0; i < list.size(); i++) {
            String param = "messages[" + i + "]";
            if (!list.get(i).isJsonObject()) {
                throw HttpApiException.invalid(param, param + " must be an object with 'role' and 'content'");
            }
            JsonObject m = list.get(i).getAsJsonObject();
            JsonElement roleElement = m.get("role");
            String role = roleElement != null && roleElement.isJsonPrimitive() ? ROLES.get(roleElement.getAsString()) : null;
            if (role == null) {
                throw HttpApiException.invalid(param + ".role", param + ".role must be system, developer, user or assistant"
                        + " (tool and function messages are not supported), got " + roleElement);
            }
            b.addMessages(ChatMessage.newBuilder().setRole(role).setContent(content(m.get("content"), param + ".content")));
        }
        return b.build();
    }

    /** A message's text: a string, or a list of {@code {"type": "text", "text": …}} parts joined. */
    private static String content(JsonElement c, String param) {
        if (c == null || c.isJsonNull()) {
            return "";
        }
        if (c.isJsonPrimitive() && c.getAsJsonPrimitive().isString()) {
            return c.getAsString();
        }
        if (c.isJsonArray()) {
            StringBuilder text = new StringBuilder();
            for (JsonElement part : c.getAsJsonArray()) {
                JsonObject p = part.isJsonObject() ? part.getAsJsonObject() : null;
                if (p == null || !p.has("type") || !"text".equals(p.get("type").getAsString()) || !p.has("text")
                        || !p.get("text").isJsonPrimitive()) {
                    throw HttpApiException.invalid(param, param + ": only text parts ({\"type\": \"text\", \"text\": …}) are supported");
                }
                text.append(p.get("text").getAsString());
            }
            return text.toString();
        }
        throw HttpApiException.invalid(param, param + " must be a string or a list of text parts");
    }

    /** A completion prompt: a string, or a list holding exactly one string. */
    private static String prompt(JsonObject o) {
        JsonElement p = o.get("prompt");
        if (p != null && p.isJsonPrimitive() && p.getAsJsonPrimitive().isString()) {
            return p.getAsString();
        }
        if (p != null && p.isJsonArray() && p.getAsJsonArray().size() == 1 && p.getAsJsonArray().get(0).isJsonPrimitive()
                && p.getAsJsonArray().get(0).getAsJsonPrimitive().isString()) {
            return p.getAsJsonArray().get(0).getAsString();
        }
        throw HttpApiException.invalid("prompt", "'prompt' is required: one string (lists of several prompts and token "
                + "arrays are not supported)");
    }

    private static boolean isDefault(String field, JsonElement v) {
        if (v.isJsonNull()) {
            return true;
        }
        if (v.isJsonPrimitive()) {
            JsonPrimitive p = v.getAsJsonPrimitive();
            if (p.isBoolean()) {
                return !p.getAsBoolean();
            }
            if (p.isNumber()) {
                return p.getAsBigDecimal().signum() == 0 || ("best_of".equals(field) && p.getAsBigDecimal().compareTo(BigDecimal.ONE) == 0)
                        || ("repetition_penalty".equals(field) && p.getAsBigDecimal().compareTo(BigDecimal.ONE) == 0);
            }
            return p.isString() && (p.getAsString().isEmpty() || "none".equals(p.getAsString()) && "tool_choice".equals(field));
        }
        if (v.isJsonArray()) {
            return v.getAsJsonArray().isEmpty() || "modalities".equals(field) && v.getAsJsonArray().size() == 1
                    && "text".equals(v.getAsJsonArray().get(0).getAsString());
        }
        JsonObject obj = v.getAsJsonObject();
        return obj.isEmpty() || "response_format".equals(field) && obj.has("type") && "text".equals(obj.get("type").getAsString());
    }

    private static boolean present(JsonObject o, String field) {
        return o.has(field) && !o.get(field).isJsonNull();
    }

    private static String requiredString(JsonObject o, String field) {
        JsonElement v = o.get(field);
        if (v == null || !v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString() || v.getAsString().isEmpty()) {
            throw HttpApiException.invalid(field, "'" + field + "' is required (a string; see GET /v1/models)");
        }
        return v.getAsString();
    }

    private static boolean bool(JsonObject o, String field) {
        if (!present(o, field)) {
            return false;
        }
        JsonElement v = o.get(field);
        if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isBoolean()) {
            throw HttpApiException.invalid(field, "'" + field + "' must be true or false, got " + v);
        }
        return v.getAsBoolean();
    }

    private static double number(JsonObject o, String field, double absent) {
        if (!present(o, field)) {
            return absent;
        }
        JsonElement v = o.get(field);
        if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isNumber()) {
            throw HttpApiException.invalid(field, "'" + field + "' must be a number, got " + v);
        }
        double d = v.getAsDouble();
        if (!Double.isFinite(d)) {
            throw HttpApiException.invalid(field, "'" + field + "' must be a finite number, got " + v);
        }
        return d;
    }

    private static boolean isInteger(JsonElement v) {
        if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isNumber()) {
            return false;
        }
        try {
            v.getAsBigDecimal().toBigIntegerExact();
            return true;
        } catch (ArithmeticException | NumberFormatException e) {
            return false;
        }
    }

    private static long integer(JsonObject o, String field, long min, long max) {
        JsonElement v = o.get(field);
        if (!isInteger(v)) {
            throw HttpApiException.invalid(field, "'" + field + "' must be an integer, got " + v);
        }
        BigDecimal d = v.getAsBigDecimal();
        if (d.compareTo(BigDecimal.valueOf(min)) < 0 || d.compareTo(BigDecimal.valueOf(max)) > 0) {
            throw HttpApiException.invalid(field, "'" + field + "' must be in " + min + ".." + max + ", got " + d.toPlainString());
        }
        return d.longValueExact();
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unreadable";
        }
        int nl = s.indexOf('\n');
        String line = nl < 0 ? s : s.substring(0, nl);
        return line.length() > 200 ? line.substring(0, 200) : line;
    }
}
