package io.diem.agent.tokenizer;

import java.io.IOException;

/** A tokenizer file cannot be loaded; the message names the file at fault. */
public final class TokenizerLoadException extends IOException {

    public TokenizerLoadException(String message) {
        super(message);
    }

    public TokenizerLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
