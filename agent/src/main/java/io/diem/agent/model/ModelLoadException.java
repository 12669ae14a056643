package io.diem.agent.model;

import java.io.IOException;

/** A model directory cannot be loaded; the message names the file (and tensor) at fault. */
public final class ModelLoadException extends IOException {

    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
