package io.diem.agent.engine;

import io.diem.agent.tokenizer.StreamingDecoder;
import io.diem.agent.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One generation as a state machine driven a step at a time, so that a device can run many at once:
 * {@link #nextInput} says which tokens to append next (a chunk of the prompt, then the last sampled
 * token), {@link #accept} takes the logits and the compute that step cost this generation, samples,
 * streams and decides whether it has ended: EOS, a stop sequence, the token limits, the compute limit,
 * a full context, or cancellation. Text is streamed as whole characters, and text that might be the
 * start of a stop sequence is held back until it is known not to be one.
 */
public final class Generation {

    private final Sequence sequence;
    private final GenerationRequest request;
    private final TokenSink sink;
    private final Cancellation cancellation;
    private final int[] prompt;
    private final int maxTokens;
    private final boolean ticketBinds;
    private final Sampler sampler;
    private final StreamingDecoder decoder;
    private final StopMatcher stops;
    private final List<Integer> completion = new ArrayList<>();
    private final List<Integer> unsent = new ArrayList<>();
    private final long start = System.nanoTime();
    /** Prompt tokens appended so far. */
    private int prefilled;
    /** How many tokens the last {@link #nextInput} handed out. */
    private int pending;
    private int next = -1;
    private long compute;
    private long firstToken;
    private long prefillNanos;
    private long decodeStart;
    private GenerationResult result;

    /** Refuses (IllegalArgumentException, with the numbers) a prompt that leaves no room in the sequence. */
    public Generation(Sequence sequence, Tokenizer tokenizer, GenerationRequest request, TokenSink sink, Cancellation cancellation) {
        List<Integer> ids = request.promptTokens(); // ids are checked against the model's vocabulary by the step
        if (ids.size() >= sequence.capacity() - sequence.position()) {
            throw new IllegalArgumentException("prompt of " + ids.size() + " tokens leaves no room in a context of "
                    + sequence.capacity() + " tokens");
        }
        this.sequence = sequence;
        this.request = request;
        this.sink = sink;
        this.cancellation = cancellation;
        this.prompt = ids.stream().mapToInt(Integer::intValue).toArray();
        SamplingParams p = request.sampling();
        this.ticketBinds = request.tokenLimit() > 0 && request.tokenLimit() < p.maxTokens();
        this.maxTokens = ticketBinds ? request.tokenLimit() : p.maxTokens();
        this.sampler = new Sampler(p);
        this.decoder = new StreamingDecoder(tokenizer);
        this.stops = new StopMatcher(p.stop());
        if (cancellation.isCancelled()) {
            end(FinishReason.CANCELLED);
        }
    }

    public Sequence sequence() {
        return sequence;
    }

    /** Whether it has ended; then {@link #result} holds what it produced and used. */
    public boolean done() {
        return result != null;
    }

    public GenerationResult result() {
        return result;
    }

    /** Whether prompt tokens are still to be appended. */
    public boolean prefilling() {
        return prefilled < prompt.length;
    }

    /** Prompt tokens not yet appended. */
    public int promptLeft() {
        return prompt.length - prefilled;
    }

    /**
     * The tokens to append in the next step: up to {@code budget} of the prompt while prefilling, then
     * the last sampled token. Ends the generation (CANCELLED) and returns null when it was cancelled.
     */
    public int[] nextInput(int budget) {
        if (result != null) {
            throw new IllegalStateException("the generation has ended");
        }
        if (cancellation.isCancelled() && prefilled > 0) {
            end(FinishReason.CANCELLED);
            return null;
        }
        if (prefilling()) {
            pending = Math.max(1, Math.min(budget, prompt.length - prefilled));
            return Arrays.copyOfRange(prompt, prefilled, prefilled + pending);
        }
        pending = 1;
        return new int[] {next};
    }

    /**
     * Takes the step's logits (of the last token appended) and what the step cost this generation
     * (ns by the engine's meter); samples and streams the next token when the prompt is in.
     */
    public void accept(float[] logits, long computeNanos) {
        compute += computeNanos;
        if (prefilling()) {
            prefilled += pending;
            if (prefilling()) {
                return; // a chunk of a longer prompt: its logits predict nothing anyone asked for
            }
            prefillNanos = System.nanoTime() - start;
            decodeStart = System.nanoTime();
        }
        next = sampler.next(logits);
        if (request.eosIds().contains(next)) {
            end(FinishReason.EOS);
            return;
        }
        completion.add(next);
        unsent.add(next);
        if (firstToken == 0) {
            firstToken = System.nanoTime() - start;
        }
        String released = stops.append(decoder.push(next));
        emit(released);
        if (stops.matched()) {
            end(FinishReason.STOP);
        } else if (completion.size() >= maxTokens) {
            end(ticketBinds ? FinishReason.TOKEN_LIMIT : FinishReason.LENGTH);
        } else if (sequence.position() >= sequence.capacity()) {
            end(FinishReason.LENGTH);
        } else if (request.computeLimitNanos() > 0 && compute >= request.computeLimitNanos()) {
            end(FinishReason.COMPUTE_TIME_LIMIT);
        } else if (cancellation.isCancelled()) {
            end(FinishReason.CANCELLED);
        }
    }

    private void end(FinishReason why) {
        if (why != FinishReason.STOP) {
            emit(stops.finish(decoder.flush()));
        }
        long decodeNanos = decodeStart == 0 ? 0 : System.nanoTime() - decodeStart;
        result = new GenerationResult(prompt.length, List.copyOf(completion), stops.text(), why, compute, prefillNanos,
                decodeNanos, firstToken);
    }

    private void emit(String text) {
        if (text.isEmpty() && unsent.isEmpty()) {
            return;
        }
        sink.accept(text, unsent.stream().mapToInt(Integer::intValue).toArray());
        unsent.clear();
    }
}
