package io.diem.agent.serve;

import io.diem.agent.engine.GenerationRequest;
import io.diem.agent.engine.SamplingParams;
import io.diem.agent.model.Model;
import io.diem.agent.tokenizer.ChatTemplate;
import io.diem.common.UnixMicros;
import io.diem.sign.TicketVerifier;
import io.diem.sign.VerificationException;
import io.diem.v1.ExecuteRequest;
import io.diem.v1.GenerateRequest;
import io.diem.v1.JobTicket;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;

/**
 * Decides whether this node runs a request: only with a valid, unused ticket for this node, for a
 * model it serves, with a prompt that fits both the ticket and the model's context. The outcome is
 * what the job runs with: its tokens, sampling and limits (the ticket's completion tokens and
 * compute time). Every refusal names its status kind and the reason it is counted under.
 */
public final class JobAdmission {

    private static final SecureRandom SEEDS = new SecureRandom();

    /** A request refused before it runs. */
    public static final class Refusal extends RuntimeException {

        /** The gRPC status the refusal is answered with (same names). */
        public enum Kind { UNAUTHENTICATED, PERMISSION_DENIED, FAILED_PRECONDITION, ALREADY_EXISTS, NOT_FOUND, INVALID_ARGUMENT }

        private final Kind kind;
        private final String reason;

        Refusal(Kind kind, String reason, String message) {
            super(message);
            this.kind = kind;
            this.reason = reason;
        }

        public Kind kind() {
            return kind;
        }

        /** The label of {@code diem_agent_tickets_rejected_total}. */
        public String reason() {
            return reason;
        }
    }

    /** An admitted request: what runs, under which ticket, admitted when (µs since the epoch). */
    public record Admitted(JobTicket ticket, Model model, GenerationRequest generation, long admittedAtUnixMicros) {}

    private final TicketVerifier tickets;
    private final Map<String, Model> models;
    private final Clock clock;

    public JobAdmission(TicketVerifier tickets, Map<String, Model> models, Clock clock) {
        this.tickets = tickets;
        this.models = models;
        this.clock = clock;
    }

    public Admitted admit(ExecuteRequest request) {
        JobTicket ticket;
        try {
            ticket = tickets.verifyAndConsume(request.getTicket());
        } catch (VerificationException e) {
            throw new Refusal(ticketKind(e), e.reason().name(), "ticket refused: " + e.getMessage());
        }
        Model model = models.get(ticket.getModel());
        if (model == null) {
            throw new Refusal(Refusal.Kind.NOT_FOUND, "model_not_served", "this node does not serve model '" + ticket.getModel()
                    + "' (it serves " + String.join(", ", models.keySet()) + ")");
        }
        GenerateRequest g = request.getRequest();
        if (!g.getModel().isEmpty() && !g.getModel().equals(ticket.getModel())) {
            throw new Refusal(Refusal.Kind.PERMISSION_DENIED, "model_mismatch", "request is for model '" + g.getModel()
                    + "' but the ticket is for '" + ticket.getModel() + "'");
        }
        List<Integer> prompt;
        SamplingParams sampling;
        try {
            prompt = prompt(model, g);
            sampling = sampling(g, ticket);
        } catch (IllegalArgumentException e) {
            throw new Refusal(Refusal.Kind.INVALID_ARGUMENT, "invalid_request", e.getMessage());
        }
        if (prompt.size() > ticket.getMaxPromptTokens()) {
            throw new Refusal(Refusal.Kind.PERMISSION_DENIED, "prompt_over_ticket", "prompt has " + prompt.size()
                    + " tokens; the ticket allows " + ticket.getMaxPromptTokens());
        }
        if (prompt.size() >= model.config().contextLength) {
            throw new Refusal(Refusal.Kind.INVALID_ARGUMENT, "prompt_too_long", "prompt has " + prompt.size() + " tokens; model "
                    + ticket.getModel() + " has a context of " + model.config().contextLength);
        }
        // The wire names the ticket's compute limit gpu_micros_limit; it bounds CPU time on the CPU engine alike.
        long computeLimitNanos = ticket.getGpuMicrosLimit() * 1000;
        GenerationRequest generation = new GenerationRequest(prompt, sampling, ticket.getMaxCompletionTokens(), computeLimitNanos,
                new HashSet<>(model.tokenizer().eosIds()));
        return new Admitted(ticket, model, generation, UnixMicros.now(clock));
    }

    static Refusal.Kind ticketKind(VerificationException e) {
        return switch (e.reason()) {
            case WRONG_NODE -> Refusal.Kind.PERMISSION_DENIED;
            case EXPIRED, NOT_YET_VALID -> Refusal.Kind.FAILED_PRECONDITION;
            case REPLAYED -> Refusal.Kind.ALREADY_EXISTS;
            default -> Refusal.Kind.UNAUTHENTICATED;
        };
    }

    private static List<Integer> prompt(Model model, GenerateRequest g) {
        switch (g.getInputCase()) {
            case PROMPT:
                if (g.getPrompt().isEmpty()) {
                    throw new IllegalArgumentException("prompt is empty");
                }
                return model.tokenizer().encode(g.getPrompt());
            case CHAT:
                if (g.getChat().getMessagesCount() == 0) {
                    throw new IllegalArgumentException("chat has no messages");
                }
                List<ChatTemplate.Message> messages = new ArrayList<>();
                g.getChat().getMessagesList().forEach(m -> {
                    if (!List.of("system", "user", "assistant").contains(m.getRole())) {
                        throw new IllegalArgumentException("chat role must be system, user or assistant, got '" + m.getRole() + "'");
                    }
                    messages.add(new ChatTemplate.Message(m.getRole(), m.getContent()));
                });
                return model.tokenizer().encodeChat(messages);
            case TOKEN_IDS:
                if (g.getTokenIds().getIdsCount() == 0) {
                    throw new IllegalArgumentException("token_ids is empty");
                }
                for (int id : g.getTokenIds().getIdsList()) {
                    if (id < 0 || id >= model.config().vocabSize) {
                        throw new IllegalArgumentException("token id " + Integer.toUnsignedString(id)
                                + " is outside the vocabulary (0.." + (model.config().vocabSize - 1) + ")");
                    }
                }
                return g.getTokenIds().getIdsList();
            default:
                throw new IllegalArgumentException("the request has no input: set prompt, chat or token_ids");
        }
    }

    private static SamplingParams sampling(GenerateRequest g, JobTicket ticket) {
        var s = g.getSampling();
        int maxTokens = s.getMaxTokens() == 0 ? ticket.getMaxCompletionTokens() : s.getMaxTokens();
        if (maxTokens <= 0) {
            throw new IllegalArgumentException("max_tokens must be >= 1");
        }
        if (s.getTopK() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("top_k is too large");
        }
        long seed = s.hasSeed() ? s.getSeed() : SEEDS.nextLong();
        return new SamplingParams(s.getTemperature(), s.getTopP() == 0 ? 1f : s.getTopP(), s.getTopK(), seed, maxTokens,
                s.getStopList());
    }
}
