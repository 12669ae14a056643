package io.diem.agent.engine.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.diem.agent.model.RopeScaling;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Each layer's float32 math against a straightforward float64 version on random data. */
class CpuOpsTest {

    private final SplittableRandom random = new SplittableRandom(11);

    private float[] randomVector(int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (random.nextGaussian() * scale);
        }
        return v;
    }

    @Test
    void rmsnorm() {
        float[] x = randomVector(300, 3);
        float[] w = randomVector(300, 1);
        float[] out = new float[300];
        CpuOps.rmsnorm(out, x, w, 300, 1e-5f);
        double ss = 0;
        for (float v : x) {
            ss += (double) v * v;
        }
        double scale = 1 / Math.sqrt(ss / 300 + 1e-5);
        for (int i = 0; i < 300; i++) {
            assertThat((double) out[i]).isCloseTo(x[i] * scale * w[i], within(1e-5 * Math.max(1, Math.abs(x[i] * scale * w[i]))));
        }
    }

    @Test
    void softmaxSumsToOneAndMatchesExp() {
        float[] x = randomVector(50, 10);
        float[] copy = x.clone();
        CpuOps.softmax(x, 0, 50);
        double max = Double.NEGATIVE_INFINITY;
        for (float v : copy) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : copy) {
            sum += Math.exp(v - max);
        }
        double total = 0;
        for (int i = 0; i < 50; i++) {
            assertThat((double) x[i]).isCloseTo(Math.exp(copy[i] - max) / sum, within(1e-6));
            total += x[i];
        }
        assertThat(total).isCloseTo(1.0, within(1e-5));
    }

    @Test
    void ropeRotatesHalvesByPositionTimesFrequency() {
        int heads = 3, headDim = 8, pos = 37;
        double[] inv = RopeScaling.NONE.inverseFrequencies(headDim, 10000);
        float[] cos = new float[4], sin = new float[4];
        for (int i = 0; i < 4; i++) {
            cos[i] = (float) Math.cos(pos * inv[i]);
            sin[i] = (float) Math.sin(pos * inv[i]);
        }
        float[] x = randomVector(heads * headDim, 1);
        float[] before = x.clone();
        CpuOps.rope(x, heads, headDim, cos, sin);
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < 4; i++) {
                double a = before[h * 8 + i], b = before[h * 8 + i + 4];
                double angle = pos * Math.pow(10000, -2.0 * i / 8);
                assertThat((double) x[h * 8 + i]).isCloseTo(a * Math.cos(angle) - b * Math.sin(angle), within(1e-5));
                assertThat((double) x[h * 8 + i + 4]).isCloseTo(b * Math.cos(angle) + a * Math.sin(angle), within(1e-5));
            }
        }
    }

    @Test
    void swigluIsSiluOfGateTimesUp() {
        float[] gate = randomVector(64, 4);
        float[] up = randomVector(64, 1);
        float[] g = gate.clone();
        CpuOps.swiglu(gate, up, 64);
        for (int i = 0; i < 64; i++) {
            double expected = g[i] / (1 + Math.exp(-g[i])) * up[i];
            assertThat((double) gate[i]).isCloseTo(expected, within(1e-5 * Math.max(1, Math.abs(expected))));
        }
    }

    @Test
    void llama3RopeScalingKeepsHighFrequenciesAndDividesLowOnes() {
        RopeScaling s = new RopeScaling(RopeScaling.Kind.LLAMA3, 32, 1, 4, 8192);
        double[] plain = RopeScaling.NONE.inverseFrequencies(64, 500000);
        double[] scaled = s.inverseFrequencies(64, 500000);
        for (int i = 0; i < plain.length; i++) {
            double wavelen = 2 * Math.PI / plain[i];
            if (wavelen < 8192 / 4.0) {
                assertThat(scaled[i]).isEqualTo(plain[i]);
            } else if (wavelen > 8192) {
                assertThat(scaled[i]).isCloseTo(plain[i] / 32, within(1e-18));
            } else {
                double smooth = (8192 / wavelen - 1) / (4 - 1);
                assertThat(scaled[i]).isCloseTo((1 - smooth) * plain[i] / 32 + smooth * plain[i], within(1e-15));
                assertThat(scaled[i]).isBetween(plain[i] / 32, plain[i]);
            }
        }
        // The 1b shape has all three bands.
        assertThat(scaled[0]).isEqualTo(plain[0]);
        assertThat(scaled[31]).isCloseTo(plain[31] / 32, within(1e-18));
    }
}
