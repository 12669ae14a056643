package io.diem.agent.engine;

import java.util.List;
import java.util.Set;

/**
 * One generation job, engine-independent.
 *
 * @param promptTokens ids fed to the model as given (BOS, if wanted, already included)
 * @param tokenLimit most completion tokens the job may produce whatever {@code maxTokens} says
 *     (the ticket's limit); 0 means no limit beyond {@code maxTokens}
 * @param computeLimitNanos most compute time the job may use; 0 means none
 * @param eosIds tokens that end the sequence
 */
public record GenerationRequest(List<Integer> promptTokens, SamplingParams sampling, int tokenLimit,
        long computeLimitNanos, Set<Integer> eosIds) {

    public GenerationRequest {
        promptTokens = List.copyOf(promptTokens);
        eosIds = Set.copyOf(eosIds);
        if (promptTokens.isEmpty()) {
            throw new IllegalArgumentException("the prompt has no tokens");
        }
    }
}
