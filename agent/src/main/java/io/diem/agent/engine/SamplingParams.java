package io.diem.agent.engine;

import java.util.List;

/**
 * How to choose each next token.
 *
 * @param temperature 0 means greedy; otherwise logits are divided by it before the softmax (0..2)
 * @param topP keep the smallest set of most likely tokens whose probability reaches this (0, 1]
 * @param topK keep only the k most likely tokens; 0 means no limit
 * @param seed seed of the random stream; the same seed and inputs give the same tokens
 * @param maxTokens most completion tokens to produce (>= 1)
 * @param stop strings that end generation; the matched text is not emitted
 */
public record SamplingParams(float temperature, float topP, int topK, long seed, int maxTokens, List<String> stop) {

    public SamplingParams {
        if (!(temperature >= 0 && temperature <= 2)) {
            throw new IllegalArgumentException("temperature must be in [0, 2], got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be >= 0, got " + topK);
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("max_tokens must be >= 1, got " + maxTokens);
        }
        for (String s : stop) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("stop sequences must not be empty");
            }
        }
        stop = List.copyOf(stop);
    }

    public static SamplingParams greedy(int maxTokens) {
        return new SamplingParams(0, 1, 0, 0, maxTokens, List.of());
    }
}
