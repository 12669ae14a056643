package io.diem.agent.engine;

import io.diem.agent.tokenizer.Tokenizer;

/**
 * One generation run alone on its sequence: the whole prompt in one step, then one token per step
 * until it ends ({@link Generation} says when). Devices that serve many jobs drive {@link Generation}s
 * themselves, a batch at a time.
 */
public final class Generator {

    private Generator() {}

    public static GenerationResult generate(Sequence sequence, Tokenizer tokenizer, GenerationRequest request,
            TokenSink sink, Cancellation cancellation) {
        Generation g = new Generation(sequence, tokenizer, request, sink, cancellation);
        while (!g.done()) {
            int[] input = g.nextInput(Integer.MAX_VALUE);
            if (input == null) {
                break;
            }
            float[] logits = sequence.step(input);
            g.accept(logits, sequence.lastStepComputeNanos());
        }
        return g.result();
    }
}
