package io.diem.gateway.call;

import java.time.Duration;

/**
 * Limits and defaults of the public inference API.
 *
 * @param maxPromptBytes UTF-8 bytes of a prompt or of all chat contents (and ids of a token prompt)
 * @param gpuMicrosPerCall the compute limit of every ticket, in device-µs
 * @param perKeyConcurrency calls one key may have in flight
 * @param dispatchAttempts nodes tried for one call when they fail before the first token
 */
public record CallLimits(int maxPromptBytes, int maxTokens, int defaultMaxTokens, int maxChatMessages, int maxStops,
        int maxStopLength, long gpuMicrosPerCall, int perKeyConcurrency, Duration ticketTtl, int dispatchAttempts) {

    public static CallLimits defaults() {
        return new CallLimits(1 << 20, 4096, 256, 256, 4, 64, 30_000_000L, 16, Duration.ofMinutes(10), 3);
    }

    public CallLimits withGpuMicrosPerCall(long micros) {
        return new CallLimits(maxPromptBytes, maxTokens, defaultMaxTokens, maxChatMessages, maxStops, maxStopLength, micros,
                perKeyConcurrency, ticketTtl, dispatchAttempts);
    }
}
