package io.diem.agent.model;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Writes a {@code .safetensors} file, streaming each tensor's values from a generator so that
 * multi-gigabyte files never sit in memory. The header is padded with spaces to 8 bytes.
 */
public final class SafeTensorsWriter {

    /** Produces the values of one tensor in row-major order. */
    @FunctionalInterface
    public interface Values {
        /** Fills {@code out} with the next {@code out.length} values. */
        void next(float[] out);
    }

    public record Spec(String name, DType dtype, long[] shape, Values values) {
        long elements() {
            return Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        }
    }

    private SafeTensorsWriter() {}

    public static void write(Path file, List<Spec> tensors) throws IOException {
        write(file, tensors, bytes -> {});
    }

    /** As {@link #write(Path, List)}, telling {@code written} each block of tensor bytes written. */
    public static void write(Path file, List<Spec> tensors, java.util.function.LongConsumer written) throws IOException {
        JsonObject header = new JsonObject();
        JsonObject metadata = new JsonObject();
        metadata.addProperty("format", "pt");
        header.add("__metadata__", metadata);
        long offset = 0;
        for (Spec t : tensors) {
            JsonObject entry = new JsonObject();
            entry.addProperty("dtype", t.dtype().name());
            JsonArray shape = new JsonArray();
            for (long d : t.shape()) {
                shape.add(d);
            }
            entry.add("shape", shape);
            JsonArray offsets = new JsonArray();
            long length = t.elements() * t.dtype().bytes;
            offsets.add(offset);
            offsets.add(offset + length);
            entry.add("data_offsets", offsets);
            header.add(t.name(), entry);
            offset += length;
        }
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) & ~7;
        Files.createDirectories(file.toAbsolutePath().getParent());
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, padded);
            out.write(length.array());
            out.write(json);
            for (int i = json.length; i < padded; i++) {
                out.write(' ');
            }
            float[] block = new float[1 << 16];
            ByteBuffer bytes = ByteBuffer.allocate(block.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (Spec t : tensors) {
                long remaining = t.elements();
                while (remaining > 0) {
                    int n = (int) Math.min(block.length, remaining);
                    float[] chunk = n == block.length ? block : new float[n];
                    t.values().next(chunk);
                    bytes.clear();
                    for (int i = 0; i < n; i++) {
                        switch (t.dtype()) {
                            case F32 -> bytes.putFloat(chunk[i]);
                            case F16 -> bytes.putShort(Half.floatToF16(chunk[i]));
                            case BF16 -> bytes.putShort(Half.floatToBf16(chunk[i]));
                        }
                    }
                    out.write(bytes.array(), 0, bytes.position());
                    written.accept(bytes.position());
                    remaining -= n;
                }
            }
        }
    }
}
