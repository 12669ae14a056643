package io.diem.agent.engine;

import java.util.List;

/**
 * What one generation produced and used.
 *
 * @param completionTokens generated ids (the EOS token, if any, is not included)
 * @param computeNanos metered compute time of the steps this job ran (CPU or GPU time)
 * @param prefillNanos wall time of the prefill
 * @param decodeNanos wall time of all decode steps
 * @param firstTokenNanos wall time from start to the first completion token (0 if none)
 */
public record GenerationResult(int promptTokens, List<Integer> completionTokens, String text, FinishReason finishReason,
        long computeNanos, long prefillNanos, long decodeNanos, long firstTokenNanos) {

    /** Decode speed in tokens per second of wall time (0 when there was nothing to decode). */
    public double decodeTokensPerSecond() {
        int decoded = Math.max(0, completionTokens.size() - 1);
        return decodeNanos == 0 ? 0 : decoded * 1e9 / decodeNanos;
    }
}
