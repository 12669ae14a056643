package io.diem.agent.engine;

/** Receives streamed output. Called on the generating thread; must not block for long. */
@FunctionalInterface
public interface TokenSink {

    /**
     * @param text decoded text now safe to show (whole UTF-8 characters, no partial stop sequence)
     * @param tokenIds tokens produced since the previous call
     */
    void accept(String text, int[] tokenIds);

    TokenSink DISCARD = (text, ids) -> {};
}
