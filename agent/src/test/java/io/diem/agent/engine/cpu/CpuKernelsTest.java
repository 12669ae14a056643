package io.diem.agent.engine.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.diem.agent.model.DType;
import io.diem.agent.model.SafeTensorsFile;
import io.diem.agent.model.SafeTensorsWriter;
import io.diem.agent.model.Tensor;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The SIMD kernels against the scalar reference, on mapped weights of every dtype and odd widths. */
class CpuKernelsTest {

    @TempDir
    Path dir;

    private final CpuKernels fast = CpuKernels.best();

    @Test
    void theVectorKernelsAreActiveUnderTest() {
        assertThat(fast.describe()).startsWith("vector(");
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void rowDotMatchesTheScalarReference(DType dtype) throws Exception {
        int rows = 7, cols = 333; // not a multiple of any vector width
        SplittableRandom random = new SplittableRandom(5);
        Path file = dir.resolve(dtype + ".safetensors");
        SafeTensorsWriter.write(file, List.of(new SafeTensorsWriter.Spec("w", dtype, new long[] {rows, cols}, out -> {
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) random.nextGaussian();
            }
        })));
        Tensor w = SafeTensorsFile.open(file).map("w");
        float[] x = new float[cols];
        for (int i = 0; i < cols; i++) {
            x[i] = (float) random.nextGaussian();
        }
        for (int r = 0; r < rows; r++) {
            double exact = 0;
            for (int c = 0; c < cols; c++) {
                exact += (double) w.get(r, c) * x[c];
            }
            assertThat((double) fast.rowDot(w, r, x)).isCloseTo(exact, within(1e-4 * Math.sqrt(cols)));
            assertThat((double) CpuKernels.SCALAR.rowDot(w, r, x)).isCloseTo(exact, within(1e-4 * Math.sqrt(cols)));
        }
    }

    @Test
    void dotAndAxpyMatchTheScalarReference() {
        SplittableRandom random = new SplittableRandom(8);
        float[] a = new float[101], b = new float[101];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) random.nextGaussian();
            b[i] = (float) random.nextGaussian();
        }
        assertThat((double) fast.dot(a, 3, b, 1, 97)).isCloseTo(CpuKernels.SCALAR.dot(a, 3, b, 1, 97), within(1e-4));
        float[] y1 = b.clone(), y2 = b.clone();
        fast.axpy(0.37f, a, 2, y1, 1, 95);
        CpuKernels.SCALAR.axpy(0.37f, a, 2, y2, 1, 95);
        for (int i = 0; i < y1.length; i++) {
            assertThat(y1[i]).isCloseTo(y2[i], within(1e-6f));
        }
    }
}
