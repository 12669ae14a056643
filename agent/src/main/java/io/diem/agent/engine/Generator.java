package io.diem.agent.engine;

import io.diem.agent.tokenizer.StreamingDecoder;
import io.diem.agent.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.List;

/**
 * The generation loop shared by every engine: prefill the prompt, then decode one token per step
 * until EOS, a stop sequence, the token limits, the compute limit, a full context, or cancellation.
 * Text is streamed as whole characters, and text that might be the start of a stop sequence is held
 * back until it is known not to be one.
 */
public final class Generator {

    private Generator() {}

    public static GenerationResult generate(Sequence sequence, Tokenizer tokenizer, GenerationRequest request,
            TokenSink sink, Cancellation cancellation) {
        List<Integer> prompt = request.promptTokens(); // ids are checked against the model's vocabulary by the step
        if (prompt.size() >= sequence.capacity() - sequence.position()) {
            throw new IllegalArgumentException("prompt of " + prompt.size() + " tokens leaves no room in a context of "
                    + sequence.capacity() + " tokens");
        }
        SamplingParams p = request.sampling();
        int maxTokens = p.maxTokens();
        boolean ticketBinds = request.tokenLimit() > 0 && request.tokenLimit() < maxTokens;
        if (ticketBinds) {
            maxTokens = request.tokenLimit();
        }
        Sampler sampler = new Sampler(p);
        StreamingDecoder decoder = new StreamingDecoder(tokenizer);
        StopMatcher stops = new StopMatcher(p.stop());
        List<Integer> completion = new ArrayList<>();
        List<Integer> unsent = new ArrayList<>();
        long compute = 0;
        long start = System.nanoTime();
        long firstToken = 0;
        long prefillNanos = 0;
        FinishReason reason = null;

        if (cancellation.isCancelled()) {
            return new GenerationResult(prompt.size(), completion, "", FinishReason.CANCELLED, 0, 0, 0, 0);
        }
        float[] logits = sequence.step(prompt.stream().mapToInt(Integer::intValue).toArray());
        compute += sequence.lastStepComputeNanos();
        prefillNanos = System.nanoTime() - start;
        long decodeStart = System.nanoTime();

        while (true) {
            int next = sampler.next(logits);
            if (request.eosIds().contains(next)) {
                reason = FinishReason.EOS;
                break;
            }
            completion.add(next);
            unsent.add(next);
            if (firstToken == 0) {
                firstToken = System.nanoTime() - start;
            }
            String released = stops.append(decoder.push(next));
            if (stops.matched()) {
                emit(sink, released, unsent);
                reason = FinishReason.STOP;
                break;
            }
            emit(sink, released, unsent);
            if (completion.size() >= maxTokens) {
                reason = ticketBinds ? FinishReason.TOKEN_LIMIT : FinishReason.LENGTH;
                break;
            }
            if (sequence.position() >= sequence.capacity()) {
                reason = FinishReason.LENGTH;
                break;
            }
            if (request.computeLimitNanos() > 0 && compute >= request.computeLimitNanos()) {
                reason = FinishReason.COMPUTE_TIME_LIMIT;
                break;
            }
            if (cancellation.isCancelled()) {
                reason = FinishReason.CANCELLED;
                break;
            }
            logits = sequence.step(new int[] {next});
            compute += sequence.lastStepComputeNanos();
        }
        if (reason != FinishReason.STOP) {
            emit(sink, stops.finish(decoder.flush()), unsent);
        }
        long decodeNanos = System.nanoTime() - decodeStart;
        return new GenerationResult(prompt.size(), completion, stops.text(), reason, compute, prefillNanos,
                decodeNanos, firstToken);
    }

    private static void emit(TokenSink sink, String text, List<Integer> unsent) {
        if (text.isEmpty() && unsent.isEmpty()) {
            return;
        }
        sink.accept(text, unsent.stream().mapToInt(Integer::intValue).toArray());
        unsent.clear();
    }
}
