package io.diem.agent.model;

/** Weight element types the engines read; all are computed in float32. */
public enum DType {
    F32(4), F16(2), BF16(2);

    /** Bytes per element. */
    public final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** The safetensors dtype name, or null when it is not one of ours. */
    public static DType fromSafetensors(String name) {
        return switch (name) {
            case "F32" -> F32;
            case "F16" -> F16;
            case "BF16" -> BF16;
            default -> null;
        };
    }
}
