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

    @Override
    public void rowDotPair(Tensor w, int row, float[] x, float[] out) {
        ByteBuffer buf = w.chunkOf(row);
        if (w.dtype != io.diem.agent.model.DType.F32 || w.chunkOf(row + 1) != buf) {
            CpuKernels.super.rowDotPair(w, row, x, out);
            return;
        }
        int o0 = w.byteOffsetOf(row);
        int o1 = w.byteOffsetOf(row + 1);
        int n = w.cols;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int step = F.length();
        int c = 0;
        for (int bound = n - 4 * step; c <= bound; c += 4 * step) {
            FloatVector x0 = FloatVector.fromArray(F, x, c);
            FloatVector x1 = FloatVector.fromArray(F, x, c + step);
            FloatVector x2 = FloatVector.fromArray(F, x, c + 2 * step);
            FloatVector x3 = FloatVector.fromArray(F, x, c + 3 * step);
            a0 = FloatVector.fromByteBuffer(F, buf, o0 + c * 4, ByteOrder.LITTLE_ENDIAN).fma(x0, a0);
            b0 = FloatVector.fromByteBuffer(F, buf, o1 + c * 4, ByteOrder.LITTLE_ENDIAN).fma(x0, b0);
            a1 = FloatVector.fromByteBuffer(F, buf, o0 + (c + step) * 4, ByteOrder.LITTLE_ENDIAN).fma(x1, a1);
            b1 = FloatVector.fromByteBuffer(F, buf, o1 + (c + step) * 4, ByteOrder.LITTLE_ENDIAN).fma(x1, b1);
            a2 = FloatVector.fromByteBuffer(F, buf, o0 + (c + 2 * step) * 4, ByteOrder.LITTLE_ENDIAN).fma(x2, a2);
            b2 = FloatVector.fromByteBuffer(F, buf, o1 + (c + 2 * step) * 4, ByteOrder.LITTLE_ENDIAN).fma(x2, b2);
            a3 = FloatVector.fromByteBuffer(F, buf, o0 + (c + 3 * step) * 4, ByteOrder.LITTLE_ENDIAN).fma(x3, a3);
            b3 = FloatVector.fromByteBuffer(F, buf, o1 + (c + 3 * step) * 4, ByteOrder.LITTLE_ENDIAN).fma(x3, b3);
        }
        for (int bound = n - step; c <= bound; c += step) {
            FloatVector x0 = FloatVector.fromArray(F, x, c);
            a0 = FloatVector.fromByteBuffer(F, buf, o0 + c * 4, ByteOrder.LITTLE_ENDIAN).fma(x0, a0);
            b0 = FloatVector.fromByteBuffer(F, buf, o1 + c * 4, ByteOrder.LITTLE_ENDIAN).fma(x0, b0);
        }
        float s0 = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        float s1 = b0.add(b1).add(b2.add(b3)).reduceLanes(VectorOperators.ADD);
        for (; c < n; c++) {
            s0 += buf.getFloat(o0 + c * 4) * x[c];
            s1 += buf.getFloat(o1 + c * 4) * x[c];
        }
        out[0] = s0;
        out[1] = s1;
    }

    /**
     * Four vectors (or fewer: the missing ones repeat the last) against one F32 row: the row is loaded
     * once for all of them, and each vector's accumulators take exactly the steps of {@link #dotF32}.
     */
    @Override
    public void rowDots(Tensor w, int row, float[][] xs, int from, int count, float[] out) {
        if (w.dtype != io.diem.agent.model.DType.F32 || count < 2) {
            CpuKernels.super.rowDots(w, row, xs, from, count, out);
            return;
        }
        float[] x0 = xs[from];
        float[] x1 = xs[from + 1];
        float[] x2 = xs[from + Math.min(2, count - 1)];
        float[] x3 = xs[from + Math.min(3, count - 1)];
        ByteBuffer buf = w.chunkOf(row);
        int offset = w.byteOffsetOf(row);
        int n = w.cols;
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        int step = F.length();
        int c = 0;
        for (int bound = n - 4 * step; c <= bound; c += 4 * step) {
            FloatVector w0 = FloatVector.fromByteBuffer(F, buf, offset + c * 4, ByteOrder.LITTLE_ENDIAN);
            FloatVector w1 = FloatVector.fromByteBuffer(F, buf, offset + (c + step) * 4, ByteOrder.LITTLE_ENDIAN);
            FloatVector w2 = FloatVector.fromByteBuffer(F, buf, offset + (c + 2 * step) * 4, ByteOrder.LITTLE_ENDIAN);
            FloatVector w3 = FloatVector.fromByteBuffer(F, buf, offset + (c + 3 * step) * 4, ByteOrder.LITTLE_ENDIAN);
            a00 = w0.fma(FloatVector.fromArray(F, x0, c), a00);
            a01 = w1.fma(FloatVector.fromArray(F, x0, c + step), a01);
            a02 = w2.fma(FloatVector.fromArray(F, x0, c + 2 * step), a02);
            a03 = w3.fma(FloatVector.fromArray(F, x0, c + 3 * step), a03);
            a10 = w0.fma(FloatVector.fromArray(F, x1, c), a10);
            a11 = w1.fma(FloatVector.fromArray(F, x1, c + step), a11);
            a12 = w2.fma(FloatVector.fromArray(F, x1, c + 2 * step), a12);
            a13 = w3.fma(FloatVector.fromArray(F, x1, c + 3 * step), a13);
            a20 = w0.fma(FloatVector.fromArray(F, x2, c), a20);
            a21 = w1.fma(FloatVector.fromArray(F, x2, c + step), a21);
            a22 = w2.fma(FloatVector.fromArray(F, x2, c + 2 * step), a22);
            a23 = w3.fma(FloatVector.fromArray(F, x2, c + 3 * step), a23);
            a30 = w0.fma(FloatVector.fromArray(F, x3, c), a30);
            a31 = w1.fma(FloatVector.fromArray(F, x3, c + step), a31);
            a32 = w2.fma(FloatVector.fromArray(F, x3, c + 2 * step), a32);
            a33 = w3.fma(FloatVector.fromArray(F, x3, c + 3 * step), a33);
        }
        for (int bound = n - step; c <= bound; c += step) {
            FloatVector w0 = FloatVector.fromByteBuffer(F, buf, offset + c * 4, ByteOrder.LITTLE_ENDIAN);
            a00 = w0.fma(FloatVector.fromArray(F, x0, c), a00);
            a10 = w0.fma(FloatVector.fromArray(F, x1, c), a10);
            a20 = w0.fma(FloatVector.fromArray(F, x2, c), a20);
            a30 = w0.fma(FloatVector.fromArray(F, x3, c), a30);
        }
        float s0 = a00.add(a01).add(a02.add(a03)).reduceLanes(VectorOperators.ADD);
        float s1 = a10.add(a11).add(a12.add(a13)).reduceLanes(VectorOperators.ADD);
        float s2 = a20.add(a21).add(a22.add(a23)).reduceLanes(VectorOperators.ADD);
        float s3 = a30.add(a31).add(a32.add(a33)).reduceLanes(VectorOperators.ADD);
        for (; c < n; c++) {
            float wc = buf.getFloat(offset + c * 4);
            s0 += wc * x0[c];
            s1 += wc * x1[c];
            s2 += wc * x2[c];
            s3 += wc * x3[c];
        }
        out[0] = s0;
        out[1] = s1;
        if (count > 2) {
            out[2] = s2;
        }
        if (count > 3) {
            out[3] = s3;
        }
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
