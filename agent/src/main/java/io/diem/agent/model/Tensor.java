package io.diem.agent.model;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;

/**
 * A read-only 2-D view ({@code rows × cols}, row-major) of weights in F32, F16 or BF16, usually
 * memory-mapped from a safetensors file. A 1-D tensor is one row. Rows are stored in chunks of at
 * most 1 GiB so tensors larger than a {@link ByteBuffer} can address still load; a row never
 * straddles two chunks.
 */
public final class Tensor {

    private static final long CHUNK_BYTES = 1L << 30;

    public final String name;
    public final DType dtype;
    public final long[] shape;
    public final int rows;
    public final int cols;
    private final int rowsPerChunk;
    /** Little-endian chunks, each holding {@code rowsPerChunk} whole rows (the last may hold fewer). */
    private final ByteBuffer[] chunks;
    /** Typed views of the chunks: exactly one of the two arrays is used, by dtype. */
    private final FloatBuffer[] floatChunks;
    private final ShortBuffer[] shortChunks;

    /**
     * @param chunks little-endian buffers; chunk {@code k} holds rows {@code [k·rowsPerChunk, …)}
     */
    Tensor(String name, DType dtype, long[] shape, int rowsPerChunk, ByteBuffer[] chunks) {
        this.name = name;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.cols = shape.length == 0 ? 1 : (int) shape[shape.length - 1];
        long r = 1;
        for (int i = 0; i < shape.length - 1; i++) {
            r *= shape[i];
        }
        this.rows = (int) r;
        this.rowsPerChunk = rowsPerChunk;
        this.chunks = new ByteBuffer[chunks.length];
        this.floatChunks = new FloatBuffer[chunks.length];
        this.shortChunks = new ShortBuffer[chunks.length];
        for (int k = 0; k < chunks.length; k++) {
            ByteBuffer le = chunks[k].duplicate().order(ByteOrder.LITTLE_ENDIAN);
            this.chunks[k] = le;
            if (dtype == DType.F32) {
                floatChunks[k] = le.asFloatBuffer();
            } else {
                shortChunks[k] = le.asShortBuffer();
            }
        }
    }

    /**
     * Dot product of row {@code row} with {@code x[xOffset … xOffset + cols)}, accumulated in float32
     * over four independent partial sums (the order the fast paths and the tests agree on).
     */
    public float dot(int row, float[] x, int xOffset) {
        int k = row / rowsPerChunk;
        int base = (row % rowsPerChunk) * cols;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int c = 0;
        int end4 = cols & ~3;
        switch (dtype) {
            case F32 -> {
                FloatBuffer w = floatChunks[k];
                for (; c < end4; c += 4) {
                    s0 += w.get(base + c) * x[xOffset + c];
                    s1 += w.get(base + c + 1) * x[xOffset + c + 1];
                    s2 += w.get(base + c + 2) * x[xOffset + c + 2];
                    s3 += w.get(base + c + 3) * x[xOffset + c + 3];
                }
                for (; c < cols; c++) {
                    s0 += w.get(base + c) * x[xOffset + c];
                }
            }
            case BF16 -> {
                ShortBuffer w = shortChunks[k];
                for (; c < end4; c += 4) {
                    s0 += Float.intBitsToFloat(w.get(base + c) << 16) * x[xOffset + c];
                    s1 += Float.intBitsToFloat(w.get(base + c + 1) << 16) * x[xOffset + c + 1];
                    s2 += Float.intBitsToFloat(w.get(base + c + 2) << 16) * x[xOffset + c + 2];
                    s3 += Float.intBitsToFloat(w.get(base + c + 3) << 16) * x[xOffset + c + 3];
                }
                for (; c < cols; c++) {
                    s0 += Float.intBitsToFloat(w.get(base + c) << 16) * x[xOffset + c];
                }
            }
            case F16 -> {
                ShortBuffer w = shortChunks[k];
                for (; c < end4; c += 4) {
                    s0 += Half.f16ToFloat(w.get(base + c)) * x[xOffset + c];
                    s1 += Half.f16ToFloat(w.get(base + c + 1)) * x[xOffset + c + 1];
                    s2 += Half.f16ToFloat(w.get(base + c + 2)) * x[xOffset + c + 2];
                    s3 += Half.f16ToFloat(w.get(base + c + 3)) * x[xOffset + c + 3];
                }
                for (; c < cols; c++) {
                    s0 += Half.f16ToFloat(w.get(base + c)) * x[xOffset + c];
                }
            }
        }
        return (s0 + s1) + (s2 + s3);
    }

    /** Rows per chunk for rows of {@code rowBytes}, so that a chunk stays within 1 GiB. */
    static int rowsPerChunk(long rowBytes) {
        return (int) Math.max(1, CHUNK_BYTES / Math.max(1, rowBytes));
    }

    /** A heap tensor of float32 values (tests, derived weights). */
    public static Tensor ofFloats(String name, float[] values, long... shape) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        buffer.asFloatBuffer().put(values);
        long elements = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        if (elements != values.length) {
            throw new IllegalArgumentException(name + ": " + values.length + " values for shape " + Arrays.toString(shape));
        }
        long[] s = shape.length == 0 ? new long[] {values.length} : shape;
        return new Tensor(name, DType.F32, s, Integer.MAX_VALUE, new ByteBuffer[] {buffer});
    }

    public long elements() {
        return (long) rows * cols;
    }

    /** Element {@code col} of row {@code row}. */
    public float get(int row, int col) {
        int k = row / rowsPerChunk;
        int index = (row % rowsPerChunk) * cols + col;
        return switch (dtype) {
            case F32 -> floatChunks[k].get(index);
            case F16 -> Half.f16ToFloat(shortChunks[k].get(index));
            case BF16 -> Half.bf16ToFloat(shortChunks[k].get(index));
        };
    }

    /** The little-endian buffer that holds row {@code row} (for vectorised readers). */
    public ByteBuffer chunkOf(int row) {
        return chunks[row / rowsPerChunk];
    }

    /** Byte offset of row {@code row} within {@link #chunkOf}. */
    public int byteOffsetOf(int row) {
        return (row % rowsPerChunk) * cols * dtype.bytes;
    }

    /** Reads every page of a memory-mapped tensor into memory now, rather than at first use. */
    public void prefault() {
        for (ByteBuffer chunk : chunks) {
            if (chunk instanceof java.nio.MappedByteBuffer mapped) {
                mapped.load();
            }
        }
    }

    /** Element {@code i} of a 1-D tensor (or of the flattened first row). */
    public float get(int i) {
        return get(i / cols, i % cols);
    }

    /** Copies row {@code row} into {@code out[0..cols)} as float32. */
    public void row(int row, float[] out) {
        for (int c = 0; c < cols; c++) {
            out[c] = get(row, c);
        }
    }

    /** All elements as float32 (small tensors: norms, biases). */
    public float[] toFloats() {
        float[] out = new float[Math.toIntExact(elements())];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[r * cols + c] = get(r, c);
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
