package io.diem.agent.engine.cpu;

import io.diem.agent.model.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * SIMD kernels. Weight rows are read straight from the (memory-mapped) buffers: F32 loads floats;
 * BF16 loads shorts, widens them to ints and shifts them into the high half, which is exactly the
 * float. F16 has no vector conversion in this JDK and uses the scalar path. Loaded reflectively by
 * {@link CpuKernels#best()} so the engine runs without the incubator module.
 */
final class VectorCpuKernels implements CpuKernels {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Shorts in half the vector width: widening them to ints fills one float vector. */
    private static final VectorSpecies<Short> S = ShortVector.SPECIES_PREFERRED.withShape(
            VectorShape.forBitSize(F.vectorBitSize() / 2));

    @Override
    public float rowDot(Tensor w, int row, float[] x) {
        return switch (w.dtype) {
            case F32 -> dotF32(w.chunkOf(row), w.byteOffsetOf(row), x, w.cols);
            case BF16 -> dotBf16(w.chunkOf(row), w.byteOffsetOf(row), x, w.cols);
            case F16 -> w.dot(row, x, 0);
        };
    }

    private static float dotF32(ByteBuffer buf, int offset, float[] x, int n) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        FloatVector acc2 = FloatVector.zero(F);
        FloatVector acc3 = FloatVector.zero(F);
        int step = F.length();
        int c = 0;
        for (int bound = n - 4 * step; c <= bound; c += 4 * step) {
            acc0 = FloatVector.fromByteBuffer(F, buf, offset + c * 4, ByteOrder.LITTLE_ENDIAN)
                    .fma(FloatVector.fromArray(F, x, c), acc0);
            acc1 = FloatVector.fromByteBuffer(F, buf, offset + (c + step) * 4, ByteOrder.LITTLE_ENDIAN)
                    .fma(FloatVector.fromArray(F, x, c + step), acc1);
            acc2 = FloatVector.fromByteBuffer(F, buf, offset + (c + 2 * step) * 4, ByteOrder.LITTLE_ENDIAN)
                    .fma(FloatVector.fromArray(F, x, c + 2 * step), acc2);
            acc3 = FloatVector.fromByteBuffer(F, buf, offset + (c + 3 * step) * 4, ByteOrder.LITTLE_ENDIAN)
                    .fma(FloatVector.fromArray(F, x, c + 3 * step), acc3);
        }
        for (int bound = n - step; c <= bound; c += step) {
            acc0 = FloatVector.fromByteBuffer(F, buf, offset + c * 4, ByteOrder.LITTLE_ENDIAN)
                    .fma(FloatVector.fromArray(F, x, c), acc0);
        }
        float sum = acc0.add(acc1).add(acc2.add(acc3)).reduceLanes(VectorOperators.ADD);
        for (; c < n; c++) {
            sum += buf.getFloat(offset + c * 4) * x[c];
        }
        return sum;
    }

    private static float dotBf16(ByteBuffer buf, int offset, float[] x, int n) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int step = F.length();
        int c = 0;
        for (int bound = n - 2 * step; c <= bound; c += 2 * step) {
            acc0 = bf16(buf, offset + c * 2).fma(FloatVector.fromArray(F, x, c), acc0);
            acc1 = bf16(buf, offset + (c + step) * 2).fma(FloatVector.fromArray(F, x, c + step), acc1);
        }
        float sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; c < n; c++) {
            sum += Float.intBitsToFloat(buf.getShort(offset + c * 2) << 16) * x[c];
        }
        return sum;
    }

    private static FloatVector bf16(ByteBuffer buf, int byteOffset) {
        ShortVector shorts = ShortVector.fromByteBuffer(S, buf, byteOffset, ByteOrder.LITTLE_ENDIAN);
        IntVector ints = (IntVector) shorts.convertShape(VectorOperators.S2I, IntVector.SPECIES_PREFERRED
                .withShape(F.vectorShape()), 0);
        return ints.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int step = F.length();
        int i = 0;
        for (int bound = n - step; i <= bound; i += step) {
            acc = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    @Override
    public void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector a = FloatVector.broadcast(F, alpha);
        int step = F.length();
        int i = 0;
        for (int bound = n - step; i <= bound; i += step) {
            FloatVector.fromArray(F, x, xOff + i).fma(a, FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += alpha * x[xOff + i];
        }
    }

    @Override
    public String describe() {
        return "vector(" + F.length() + " lanes)";
    }
}
