package io.diem.gateway.call;

import io.diem.gateway.error.GatewayException.Kind;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.ledger.CallHold;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerViews;
import io.diem.gateway.ledger.Pricing;
import io.diem.gateway.metrics.GatewayMetrics;
import io.diem.gateway.nodes.NodePicker;
import io.diem.v1.ChatMessage;
import io.diem.v1.GenerateRequest;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;

/**
 * The first step of a call: check the request against the API's limits, find the model's price and
 * a node that serves it, bound the call's worst-case cost (prompt and max tokens at token prices
 * plus the ticket's compute limit at its price), and reserve that much of the caller's credit.
 * Nothing is dispatched unless all of that succeeds; every refusal is counted by reason.
 */
public final class Admission {

    /**
     * An admitted call: credit is held for it ({@link CallHold}) and must be posted or released.
     *
     * @param worstCaseMicroUsd the amount reserved
     * @param startNanos when the call arrived (monotonic), for latency metrics
     */
    public record Admitted(CallHold hold, LedgerViews.ApiKey key, Pricing price, long maxPromptTokens, int maxTokens,
            long worstCaseMicroUsd, long startNanos) {

        /** The call's id, which is also its reservation's. */
        public String callId() {
            return hold.callId();
        }
    }

    private final Ledger ledger;
    private final NodePicker picker;
    private final GatewayMetrics metrics;
    private final CallLimits limits;
    private final String gatewayId;
    private final Map<String, Semaphore> perKey = new ConcurrentHashMap<>();

    /** {@code gatewayId} names this gateway's reservations ({@link CallRecovery}). */
    public Admission(Ledger ledger, NodePicker picker, GatewayMetrics metrics, CallLimits limits, String gatewayId) {
        this.gatewayId = gatewayId;
        this.ledger = ledger;
        this.picker = picker;
        this.metrics = metrics;
        this.limits = limits;
    }

    /** Takes one of the key's concurrent-call slots; the caller must {@link #leave} it when the call ends. */
    public void enter(LedgerViews.ApiKey key) {
        if (!slots(key).tryAcquire()) {
            metrics.rejected("key_concurrency");
            throw new GatewayException(Kind.RESOURCE_EXHAUSTED, "key " + key.keyId() + " already has "
                    + limits.perKeyConcurrency() + " calls in flight (the per-key limit); wait for one to finish",
                    "KEY_CONCURRENCY", Map.of("limit", Integer.toString(limits.perKeyConcurrency())));
        }
    }

    public void leave(LedgerViews.ApiKey key) {
        slots(key).release();
    }

    private Semaphore slots(LedgerViews.ApiKey key) {
        return perKey.computeIfAbsent(key.keyId(), k -> new Semaphore(limits.perKeyConcurrency()));
    }

    /** Validates, prices and reserves; throws the refusal otherwise. */
    public Admitted admit(GenerateRequest request, LedgerViews.ApiKey key, long startNanos) {
        String model = request.getModel();
        int maxTokens = validate(request);
        Pricing price = ledger.price(model).orElseThrow(() -> {
            metrics.rejected("unknown_model");
            return new GatewayException(Kind.NOT_FOUND, "model '" + model + "' is not offered (no price is set); see ListModels");
        });
        NodePicker.AvailableModel available = picker.availableModels().get(model);
        if (available == null) {
            metrics.rejected("no_node");
            throw new GatewayException(Kind.UNAVAILABLE, "no healthy node serves model '" + model + "' right now; retry later");
        }
        if (picker.allBacklogged(model)) {
            metrics.rejected("booking_backlog");
            throw new GatewayException(Kind.UNAVAILABLE, "every node serving model '" + model + "' has more than "
                    + NodePicker.MAX_UNBOOKED_RECEIPTS + " receipts waiting to be booked (the ledger is behind); retry in a few "
                    + "seconds; nothing was charged");
        }
        int context = available.contextLength();
        if (request.getInputCase() == GenerateRequest.InputCase.TOKEN_IDS && request.getTokenIds().getIdsCount() >= context) {
            throw invalid("token_ids", "prompt has " + request.getTokenIds().getIdsCount()
                    + " tokens; model '" + model + "' has a context of " + context);
        }
        long maxPrompt = Math.min(promptTokenBound(request, available), context - 1);
        if (request.getSampling().getMaxTokens() == 0) {
            // The default fits the model: never more than the context leaves after the prompt's bound.
            maxTokens = (int) Math.max(1, Math.min(maxTokens, context - maxPrompt));
        } else if (maxTokens >= context) {
            throw invalid("max_tokens", "max_tokens " + maxTokens + " does not fit the context of " + context
                    + " tokens of model '" + model + "'");
        }
        long worst = price.chargeMicroUsd(maxPrompt, maxTokens, limits.gpuMicrosPerCall());
        String callId = CallRecovery.newCallId(gatewayId);
        CallHold hold;
        try {
            hold = ledger.holdForCall(callId, key.accountId(), key.keyId(), worst);
        } catch (GatewayException e) {
            throw creditRefusal(e, key, worst);
        }
        metrics.admitted(model);
        return new Admitted(hold, key, price, maxPrompt, maxTokens, worst, startNanos);
    }

    /**
     * A refusal of credit ({@code e} RESOURCE_EXHAUSTED) as callers get it: INSUFFICIENT_CREDIT with what
     * remains, what the call needed and when the day resets; any other failure unchanged.
     */
    GatewayException creditRefusal(GatewayException e, LedgerViews.ApiKey key, long worst) {
        if (e.kind() != Kind.RESOURCE_EXHAUSTED) {
            return e;
        }
        metrics.rejected("insufficient_credit");
        LedgerViews.Balance b = ledger.balance(key.accountId());
        return new GatewayException(Kind.RESOURCE_EXHAUSTED, e.getMessage(), "INSUFFICIENT_CREDIT", Map.of(
                "remaining_micro_usd", Long.toString(b.remaining()),
                "needed_micro_usd", Long.toString(worst),
                "resets_at", b.resetsAt().toString()));
    }

    /** What is wrong with a request: the field (as {@link GenerateRequest} names it) and why. */
    record Problem(String field, String message) {}

    /** The refusal of an invalid request, naming the field as machine-readable detail {@code field}. */
    private GatewayException invalid(String field, String message) {
        metrics.rejected("invalid_request");
        return new GatewayException(Kind.INVALID_ARGUMENT, message, "INVALID_FIELD", Map.of("field", field));
    }

    /** Checks the request against the API's limits; returns the max_tokens to use. */
    private int validate(GenerateRequest r) {
        Problem problem = problem(r);
        if (problem != null) {
            throw invalid(problem.field(), problem.message());
        }
        return r.getSampling().getMaxTokens() == 0 ? limits.defaultMaxTokens() : r.getSampling().getMaxTokens();
    }

    /** What is wrong with the request, or null. */
    private Problem problem(GenerateRequest r) {
        if (r.getModel().isEmpty()) {
            return new Problem("model", "model is required (see ListModels)");
        }
        switch (r.getInputCase()) {
            case PROMPT -> {
                int bytes = r.getPrompt().getBytes(StandardCharsets.UTF_8).length;
                if (bytes == 0 || bytes > limits.maxPromptBytes()) {
                    return new Problem("prompt", "prompt must be 1.." + limits.maxPromptBytes() + " bytes, got " + bytes);
                }
            }
            case CHAT -> {
                int n = r.getChat().getMessagesCount();
                if (n == 0 || n > limits.maxChatMessages()) {
                    return new Problem("chat", "chat must have 1.." + limits.maxChatMessages() + " messages, got " + n);
                }
                long bytes = 0;
                for (ChatMessage m : r.getChat().getMessagesList()) {
                    if (!List.of("system", "user", "assistant").contains(m.getRole())) {
                        return new Problem("chat", "chat role must be system, user or assistant, got '" + m.getRole() + "'");
                    }
                    bytes += m.getContent().getBytes(StandardCharsets.UTF_8).length;
                }
                if (bytes > limits.maxPromptBytes()) {
                    return new Problem("chat", "chat content must be at most " + limits.maxPromptBytes() + " bytes, got " + bytes);
                }
            }
            case TOKEN_IDS -> {
                int n = r.getTokenIds().getIdsCount();
                if (n == 0 || n > limits.maxPromptBytes()) {
                    return new Problem("token_ids", "token_ids must have 1.." + limits.maxPromptBytes() + " ids, got " + n);
                }
            }
            default -> {
                return new Problem("prompt", "set one input: prompt, chat or token_ids");
            }
        }
        var s = r.getSampling();
        if (!(s.getTemperature() >= 0 && s.getTemperature() <= 2)) {
            return new Problem("temperature", "temperature must be in [0, 2], got " + s.getTemperature());
        }
        if (!(s.getTopP() >= 0 && s.getTopP() <= 1)) {
            return new Problem("top_p", "top_p must be in [0, 1] (0 = unset), got " + s.getTopP());
        }
        if (Integer.compareUnsigned(s.getMaxTokens(), limits.maxTokens()) > 0) { // uint32 on the wire
            return new Problem("max_tokens", "max_tokens must be 1.." + limits.maxTokens() + " (0 = " + limits.defaultMaxTokens() + "), got "
                    + Integer.toUnsignedString(s.getMaxTokens()));
        }
        if (Integer.compareUnsigned(s.getTopK(), 1_000_000) > 0) {
            return new Problem("top_k", "top_k must be 0..1000000 (0 = off), got " + Integer.toUnsignedString(s.getTopK()));
        }
        if (s.getStopCount() > limits.maxStops()) {
            return new Problem("stop", "at most " + limits.maxStops() + " stop sequences, got " + s.getStopCount());
        }
        for (String stop : s.getStopList()) {
            if (stop.isEmpty() || stop.length() > limits.maxStopLength()) {
                return new Problem("stop", "stop sequences must be 1.." + limits.maxStopLength() + " characters");
            }
        }
        return null;
    }

    /**
     * An upper bound on the prompt's tokens without tokenizing: every BPE token covers at least one
     * byte, so UTF-8 bytes + BOS bound a prompt; a chat adds what the model's template adds, as its
     * nodes measured it ({@link NodePicker.AvailableModel#hasChatBound}), else a generous 16 tokens per
     * message and 16 more.
     */
    static long promptTokenBound(GenerateRequest r, NodePicker.AvailableModel model) {
        return switch (r.getInputCase()) {
            case PROMPT -> r.getPrompt().getBytes(StandardCharsets.UTF_8).length + 1L;
            case TOKEN_IDS -> r.getTokenIds().getIdsCount();
            case CHAT -> {
                long bytes = r.getChat().getMessagesList().stream().mapToLong(m -> m.getContent().getBytes(StandardCharsets.UTF_8).length).sum();
                int n = r.getChat().getMessagesCount();
                yield model.hasChatBound() ? model.chatFixedTokens() + (long) n * model.chatTokensPerMessage() + bytes
                        : 16L + r.getChat().getMessagesList().stream().mapToLong(m -> 16L + m.getRole().length()).sum() + bytes;
            }
            default -> 0;
        };
    }
}
