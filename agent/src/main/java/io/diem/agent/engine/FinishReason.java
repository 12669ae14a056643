package io.diem.agent.engine;

/** Why a generation ended. */
public enum FinishReason {
    /** A stop sequence appeared (it is not part of the output). */
    STOP,
    /** The requested maximum number of tokens was produced, or the context is full. */
    LENGTH,
    /** The model produced an end-of-sequence token. */
    EOS,
    /** The caller cancelled, or the deadline passed. */
    CANCELLED,
    /** The job's ticket allowed no more tokens. */
    TOKEN_LIMIT,
    /** The job's ticket allowed no more compute time (GPU or CPU, whichever the engine meters). */
    COMPUTE_TIME_LIMIT
}
