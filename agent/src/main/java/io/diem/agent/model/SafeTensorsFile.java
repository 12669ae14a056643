package io.diem.agent.model;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import io.diem.common.Channels;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One {@code .safetensors} file: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the data. The header is validated completely on open
 * (sizes, bounds, dtypes), so a truncated or malformed file fails here with the file and tensor
 * named, never later inside the math. Tensor data is memory-mapped on demand.
 */
public final class SafeTensorsFile {

    /** Largest header accepted (the reference implementation's limit). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    /** Where one tensor's bytes lie. */
    public record Entry(String name, DType dtype, long[] shape, long begin, long end) {}

    private final Path path;
    private final long dataStart;
    private final Map<String, Entry> entries;

    private SafeTensorsFile(Path path, long dataStart, Map<String, Entry> entries) {
        this.path = path;
        this.dataStart = dataStart;
        this.entries = entries;
    }

    public static SafeTensorsFile open(Path path) throws ModelLoadException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size < 8) {
                throw new ModelLoadException(path + ": truncated safetensors file (" + size + " bytes, no header)");
            }
            ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            Channels.readFully(channel, lengthBytes, 0);
            long headerLength = lengthBytes.getLong(0);
            if (headerLength < 2 || headerLength > MAX_HEADER_BYTES) {
                throw new ModelLoadException(path + ": safetensors header of " + Long.toUnsignedString(headerLength)
                        + " bytes is " + (headerLength < 2 ? "too small" : "too large (limit " + MAX_HEADER_BYTES + ")"));
            }
            if (8 + headerLength > size) {
                throw new ModelLoadException(path + ": truncated safetensors file: header claims " + headerLength
                        + " bytes but the file has " + (size - 8) + " after the length");
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLength);
            Channels.readFully(channel, header, 8);
            long dataStart = 8 + headerLength;
            Map<String, Entry> entries = parseHeader(path, new String(header.array(), StandardCharsets.UTF_8),
                    size - dataStart);
            return new SafeTensorsFile(path, dataStart, entries);
        } catch (ModelLoadException e) {
            throw e;
        } catch (IOException e) {
            throw new ModelLoadException(path + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static Map<String, Entry> parseHeader(Path path, String text, long dataLength) throws ModelLoadException {
        JsonObject json;
        try {
            json = JsonParser.parseString(text).getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
            throw new ModelLoadException(path + ": malformed safetensors header (not a JSON object): " + e.getMessage(), e);
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : json.entrySet()) {
            String name = e.getKey();
            if (name.equals("__metadata__")) {
                continue;
            }
            try {
                JsonObject t = e.getValue().getAsJsonObject();
                String dtypeName = t.get("dtype").getAsString();
                DType dtype = DType.fromSafetensors(dtypeName);
                if (dtype == null) {
                    throw new ModelLoadException(path + ": tensor " + name + " has dtype " + dtypeName
                            + " (supported: F32, F16, BF16)");
                }
                long[] shape = new long[t.getAsJsonArray("shape").size()];
                long elements = 1;
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = t.getAsJsonArray("shape").get(i).getAsLong();
                    if (shape[i] < 0) {
                        throw new ModelLoadException(path + ": tensor " + name + " has a negative dimension");
                    }
                    elements = Math.multiplyExact(elements, shape[i]);
                }
                long begin = t.getAsJsonArray("data_offsets").get(0).getAsLong();
                long end = t.getAsJsonArray("data_offsets").get(1).getAsLong();
                if (begin < 0 || end < begin) {
                    throw new ModelLoadException(path + ": tensor " + name + " has data_offsets [" + begin + ", "
                            + end + "]");
                }
                if (end - begin != elements * dtype.bytes) {
                    throw new ModelLoadException(path + ": tensor " + name + " has " + (end - begin) + " bytes but shape "
                            + Arrays.toString(shape) + " of " + dtype + " needs " + elements * dtype.bytes);
                }
                if (end > dataLength) {
                    throw new ModelLoadException(path + ": truncated file: tensor " + name + " ends at byte " + end
                            + " of the data but the file holds only " + dataLength);
                }
                entries.put(name, new Entry(name, dtype, shape, begin, end));
            } catch (ModelLoadException ex) {
                throw ex;
            } catch (RuntimeException ex) {
                throw new ModelLoadException(path + ": malformed header entry for tensor " + name + ": " + ex, ex);
            }
        }
        return entries;
    }


    public Path path() {
        return path;
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    /** Memory-maps one tensor (read-only, little-endian), in chunks of whole rows under 1 GiB. */
    public Tensor map(String name) throws ModelLoadException {
        Entry entry = entries.get(name);
        if (entry == null) {
            throw new ModelLoadException(path + ": no tensor " + name);
        }
        long cols = entry.shape.length == 0 ? 1 : entry.shape[entry.shape.length - 1];
        long rowBytes = Math.max(1, cols) * entry.dtype.bytes;
        int rowsPerChunk = Tensor.rowsPerChunk(rowBytes);
        long total = entry.end - entry.begin;
        long chunkBytes = (long) rowsPerChunk * rowBytes;
        int chunkCount = (int) Math.max(1, (total + chunkBytes - 1) / chunkBytes);
        ByteBuffer[] chunks = new ByteBuffer[chunkCount];
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            for (int k = 0; k < chunkCount; k++) {
                long offset = (long) k * chunkBytes;
                long length = Math.min(chunkBytes, total - offset);
                chunks[k] = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + entry.begin + offset, length)
                        .order(ByteOrder.LITTLE_ENDIAN);
            }
        } catch (IOException e) {
            throw new ModelLoadException(path + ": cannot map tensor " + name + ": " + e.getMessage(), e);
        }
        return new Tensor(name, entry.dtype, entry.shape, rowsPerChunk, chunks);
    }
}
