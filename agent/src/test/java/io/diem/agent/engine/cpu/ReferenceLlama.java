package io.diem.agent.engine.cpu;

import io.diem.agent.model.LlamaWeights;
import io.diem.agent.model.ModelConfig;
import io.diem.agent.model.Tensor;

/**
 * A float64 Llama forward pass written as directly as possible from the definitions (no caching
 * tricks: attention recomputes from stored keys/values), used as the ground truth in tests.
 */
final class ReferenceLlama {

    private final ModelConfig c;
    private final LlamaWeights w;
    private final double[][][] keys;   // (layer)(pos)(kvDim)
    private final double[][][] values;
    private int position;

    ReferenceLlama(ModelConfig config, LlamaWeights weights, int capacity) {
        this.c = config;
        this.w = weights;
        this.keys = new double[c.layers][capacity][];
        this.values = new double[c.layers][capacity][];
    }

    double[] forward(int token) {
        int pos = position++;
        double[] x = new double[c.dim];
        for (int i = 0; i < c.dim; i++) {
            x[i] = w.tokenEmbedding.get(token, i);
        }
        double[] inv = c.ropeScaling.inverseFrequencies(c.headDim, c.ropeTheta);
        for (int l = 0; l < c.layers; l++) {
            double[] h = rmsnorm(x, w.attentionNorm[l]);
            double[] q = plus(matvec(w.wq[l], h), w.bq[l]);
            double[] k = plus(matvec(w.wk[l], h), w.bk[l]);
            double[] v = plus(matvec(w.wv[l], h), w.bv[l]);
            rope(q, c.heads, inv, pos);
            rope(k, c.kvHeads, inv, pos);
            keys[l][pos] = k;
            values[l][pos] = v;
            double[] att = new double[c.qDim];
            int first = c.slidingWindow > 0 ? Math.max(0, pos - c.slidingWindow + 1) : 0;
            for (int head = 0; head < c.heads; head++) {
                int kvHead = head / c.groupSize;
                double[] scores = new double[pos - first + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int t = first; t <= pos; t++) {
                    double s = 0;
                    for (int i = 0; i < c.headDim; i++) {
                        s += q[head * c.headDim + i] * keys[l][t][kvHead * c.headDim + i];
                    }
                    scores[t - first] = s / Math.sqrt(c.headDim);
                    max = Math.max(max, scores[t - first]);
                }
                double sum = 0;
                for (int t = 0; t < scores.length; t++) {
                    scores[t] = Math.exp(scores[t] - max);
                    sum += scores[t];
                }
                for (int t = first; t <= pos; t++) {
                    double a = scores[t - first] / sum;
                    for (int i = 0; i < c.headDim; i++) {
                        att[head * c.headDim + i] += a * values[l][t][kvHead * c.headDim + i];
                    }
                }
            }
            double[] o = plus(matvec(w.wo[l], att), w.bo[l]);
            for (int i = 0; i < c.dim; i++) {
                x[i] += o[i];
            }
            double[] f = rmsnorm(x, w.ffnNorm[l]);
            double[] gate = matvec(w.wGate[l], f);
            double[] up = matvec(w.wUp[l], f);
            for (int i = 0; i < gate.length; i++) {
                gate[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
            }
            double[] down = matvec(w.wDown[l], gate);
            for (int i = 0; i < c.dim; i++) {
                x[i] += down[i];
            }
        }
        return matvec(w.output, rmsnorm(x, w.finalNorm));
    }

    private double[] rmsnorm(double[] x, Tensor weight) {
        double ss = 0;
        for (double v : x) {
            ss += v * v;
        }
        double scale = 1 / Math.sqrt(ss / x.length + c.rmsNormEps);
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * scale * weight.get(i);
        }
        return out;
    }

    static double[] matvec(Tensor w, double[] x) {
        double[] out = new double[w.rows];
        for (int r = 0; r < w.rows; r++) {
            double s = 0;
            for (int col = 0; col < w.cols; col++) {
                s += w.get(r, col) * x[col];
            }
            out[r] = s;
        }
        return out;
    }

    private static double[] plus(double[] x, Tensor bias) {
        if (bias != null) {
            for (int i = 0; i < x.length; i++) {
                x[i] += bias.get(i);
            }
        }
        return x;
    }

    private void rope(double[] x, int heads, double[] inv, int pos) {
        int half = c.headDim / 2;
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < half; i++) {
                double cos = Math.cos(pos * inv[i]);
                double sin = Math.sin(pos * inv[i]);
                double a = x[h * c.headDim + i];
                double b = x[h * c.headDim + i + half];
                x[h * c.headDim + i] = a * cos - b * sin;
                x[h * c.headDim + i + half] = b * cos + a * sin;
            }
        }
    }
}
