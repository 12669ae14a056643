package io.diem.agent.engine.cpu;

import io.diem.agent.model.ModelConfig;
import io.diem.agent.model.LlamaWeights;
import io.diem.agent.model.Tensor;
import java.util.List;

/**
 * The forward pass of one step over several sequences of one model, as the Llama paper names it.
 * The step's tokens (a prompt chunk or one decode token per sequence) become the rows of one
 * activation matrix, so every weight row is read once per step and multiplied by all of them. Each
 * element is computed exactly as it would be for that token alone (the same kernel over the same
 * operands in the same order), and attention reads only the token's own sequence, so a sequence's
 * logits do not depend on what else is in the batch.
 */
final class CpuBatch {

    /** Activations of up to {@code rows} tokens of one model, reused from step to step. */
    static final class Scratch {
        final int rows;
        final float[][] x;
        final float[][] xb;
        final float[][] xb2;
        final float[][] q;
        final float[][] k;
        final float[][] v;
        final float[][] att;
        final float[][] hb;
        final float[][] hb2;

        Scratch(ModelConfig c, int rows) {
            this.rows = rows;
            x = new float[rows][c.dim];
            xb = new float[rows][c.dim];
            xb2 = new float[rows][c.dim];
            q = new float[rows][c.qDim];
            k = new float[rows][c.kvDim];
            v = new float[rows][c.kvDim];
            att = new float[rows][c.qDim];
            hb = new float[rows][c.hiddenDim];
            hb2 = new float[rows][c.hiddenDim];
        }
    }

    private CpuBatch() {}

    /**
     * Appends {@code tokens.get(i)} to {@code sequences.get(i)} and leaves each sequence's logits (for
     * the token after its last) in its {@code logits}. All sequences share one model.
     */
    static void forward(CpuEngine engine, List<CpuSequence> sequences, List<int[]> tokens) {
        ModelConfig c = sequences.get(0).c;
        LlamaWeights w = sequences.get(0).w;
        int total = 0;
        for (int[] t : tokens) {
            total += t.length;
        }
        int rows = total;
        Scratch s = engine.scratch(c, rows);
        // Row r: which sequence, at which position; the last row of each sequence gives its logits.
        CpuSequence[] seqOf = new CpuSequence[rows];
        int[] posOf = new int[rows];
        int[] lastRow = new int[sequences.size()];
        int r = 0;
        for (int i = 0; i < sequences.size(); i++) {
            CpuSequence seq = sequences.get(i);
            int[] t = tokens.get(i);
            seq.growTo(seq.position + t.length - 1);
            for (int j = 0; j < t.length; j++, r++) {
                seqOf[r] = seq;
                posOf[r] = seq.position + j;
                w.tokenEmbedding.row(t[j], s.x[r]);
            }
            lastRow[i] = r - 1;
        }
        CpuSequence first = sequences.get(0);
        float[][] cos = new float[rows][];
        float[][] sin = new float[rows][];
        for (r = 0; r < rows; r++) {
            cos[r] = new float[c.headDim / 2];
            sin[r] = new float[c.headDim / 2];
            for (int i = 0; i < first.invFreq.length; i++) {
                double angle = posOf[r] * first.invFreq[i];
                cos[r][i] = (float) Math.cos(angle);
                sin[r][i] = (float) Math.sin(angle);
            }
        }
        for (int l = 0; l < c.layers; l++) {
            for (r = 0; r < rows; r++) {
                CpuOps.rmsnorm(s.xb[r], s.x[r], first.attentionNorm[l], c.dim, c.rmsNormEps);
            }
            engine.matmul(s.xb, rows, new Tensor[] {w.wq[l], w.wk[l], w.wv[l]}, new float[][][] {s.q, s.k, s.v});
            for (r = 0; r < rows; r++) {
                addBias(s.q[r], first.bq[l]);
                addBias(s.k[r], first.bk[l]);
                addBias(s.v[r], first.bv[l]);
                CpuOps.rope(s.q[r], c.heads, c.headDim, cos[r], sin[r]);
                CpuOps.rope(s.k[r], c.kvHeads, c.headDim, cos[r], sin[r]);
                int block = posOf[r] / CpuEngine.KV_BLOCK_TOKENS;
                int offset = (posOf[r] % CpuEngine.KV_BLOCK_TOKENS) * c.kvDim;
                System.arraycopy(s.k[r], 0, seqOf[r].keyBlocks[l][block], offset, c.kvDim);
                System.arraycopy(s.v[r], 0, seqOf[r].valueBlocks[l][block], offset, c.kvDim);
            }
            attention(engine, c, l, s, seqOf, posOf, rows);
            engine.matmul(s.att, rows, new Tensor[] {w.wo[l]}, new float[][][] {s.xb2});
            for (r = 0; r < rows; r++) {
                addBias(s.xb2[r], first.bo[l]);
                CpuOps.add(s.x[r], s.xb2[r], c.dim);
                CpuOps.rmsnorm(s.xb[r], s.x[r], first.ffnNorm[l], c.dim, c.rmsNormEps);
            }
            engine.matmul(s.xb, rows, new Tensor[] {w.wGate[l], w.wUp[l]}, new float[][][] {s.hb, s.hb2});
            for (r = 0; r < rows; r++) {
                CpuOps.swiglu(s.hb[r], s.hb2[r], c.hiddenDim);
            }
            engine.matmul(s.hb, rows, new Tensor[] {w.wDown[l]}, new float[][][] {s.xb2});
            for (r = 0; r < rows; r++) {
                CpuOps.add(s.x[r], s.xb2[r], c.dim);
            }
        }
        // final rmsnorm and classifier, for each sequence's last token only
        float[][] normed = new float[sequences.size()][];
        float[][][] out = new float[1][sequences.size()][];
        for (int i = 0; i < sequences.size(); i++) {
            normed[i] = s.xb[lastRow[i]];
            CpuOps.rmsnorm(normed[i], s.x[lastRow[i]], first.finalNorm, c.dim, c.rmsNormEps);
            out[0][i] = sequences.get(i).logits;
        }
        engine.matmul(normed, normed.length, new Tensor[] {w.output}, out);
        for (int i = 0; i < sequences.size(); i++) {
            sequences.get(i).position += tokens.get(i).length;
        }
    }

    /**
     * Grouped-query attention of every (row, head) over its own sequence's positions up to the row's,
     * the pairs split over the engine's threads.
     */
    private static void attention(CpuEngine engine, ModelConfig c, int layer, Scratch s, CpuSequence[] seqOf, int[] posOf,
            int rows) {
        int headDim = c.headDim;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        int pairs = rows * c.heads;
        CpuKernels kernels = engine.kernels();
        engine.parallel((part, parts) -> {
            float[] scores = engine.scoresFor(part, c.contextLength);
            for (int pair = (int) ((long) pairs * part / parts); pair < (long) pairs * (part + 1) / parts; pair++) {
                int r = pair / c.heads;
                int h = pair % c.heads;
                int pos = posOf[r];
                int first = c.slidingWindow > 0 ? Math.max(0, pos - c.slidingWindow + 1) : 0;
                int span = pos - first + 1;
                float[][] keys = seqOf[r].keyBlocks[layer];
                float[][] values = seqOf[r].valueBlocks[layer];
                float[] q = s.q[r];
                float[] att = s.att[r];
                int qBase = h * headDim;
                int kvBase = (h / c.groupSize) * headDim;
                for (int t = first; t <= pos; t++) {
                    int at = (t % CpuEngine.KV_BLOCK_TOKENS) * c.kvDim + kvBase;
                    scores[t - first] = kernels.dot(q, qBase, keys[t / CpuEngine.KV_BLOCK_TOKENS], at, headDim) * scale;
                }
                CpuOps.softmax(scores, 0, span);
                java.util.Arrays.fill(att, qBase, qBase + headDim, 0f);
                for (int t = first; t <= pos; t++) {
                    int at = (t % CpuEngine.KV_BLOCK_TOKENS) * c.kvDim + kvBase;
                    kernels.axpy(scores[t - first], values[t / CpuEngine.KV_BLOCK_TOKENS], at, att, qBase, headDim);
                }
            }
        });
    }

    private static void addBias(float[] x, float[] bias) {
        if (bias != null) {
            CpuOps.add(x, bias, bias.length);
        }
    }
}
