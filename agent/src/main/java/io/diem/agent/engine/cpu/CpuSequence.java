package io.diem.agent.engine.cpu;

import io.diem.agent.engine.Sequence;
import io.diem.agent.model.LlamaWeights;
import io.diem.agent.model.Model;
import io.diem.agent.model.ModelConfig;
import io.diem.agent.model.Tensor;

/**
 * One sequence on the CPU engine: activations and the KV cache, allocated once, and the forward
 * pass step by step as the Llama paper names it.
 */
final class CpuSequence implements Sequence {

    private final CpuEngine engine;
    private final CpuKernels kernels;
    private final ModelConfig c;
    private final LlamaWeights w;
    private final int capacity;
    private int position;
    private long lastStepNanos;

    /** (dim) residual stream. */
    private final float[] x;
    /** (dim) normed input of a block. */
    private final float[] xb;
    /** (dim) block output before the residual add. */
    private final float[] xb2;
    /** (qDim) queries; (kvDim) this position's keys and values. */
    private final float[] q;
    private final float[] k;
    private final float[] v;
    /** (qDim) attention output, all heads. */
    private final float[] att;
    /** (heads · capacity) attention scores, one row per head. */
    private final float[] scores;
    /** (hiddenDim) SwiGLU gate and up projections. */
    private final float[] hb;
    private final float[] hb2;
    /** Output groups of the fused products: {q, k, v} and {gate, up}. */
    private final float[][] qkv;
    private final float[][] gateUp;
    /** (vocab) output logits. */
    private final float[] logits;
    /** (layer)(capacity · kvDim) key and value caches. */
    private final float[][] keyCache;
    private final float[][] valueCache;
    /** Norm weights as float32, loaded once: (layer)(dim). */
    private final float[][] attentionNorm;
    private final float[][] ffnNorm;
    private final float[] finalNorm;
    /** (layer) biases or null. */
    private final float[][] bq;
    private final float[][] bk;
    private final float[][] bv;
    private final float[][] bo;
    /** (headDim/2) RoPE inverse frequencies; per-position cos/sin buffers. */
    private final double[] invFreq;
    private final float[] cos;
    private final float[] sin;

    CpuSequence(CpuEngine engine, Model model, int capacity) {
        this.engine = engine;
        this.kernels = engine.kernels();
        this.c = model.config();
        this.w = model.weights();
        if (capacity < 2 || capacity > c.contextLength) {
            throw new IllegalArgumentException("sequence capacity must be 2.." + c.contextLength + ", got " + capacity);
        }
        this.capacity = capacity;
        x = new float[c.dim];
        xb = new float[c.dim];
        xb2 = new float[c.dim];
        q = new float[c.qDim];
        k = new float[c.kvDim];
        v = new float[c.kvDim];
        att = new float[c.qDim];
        scores = new float[c.heads * capacity];
        hb = new float[c.hiddenDim];
        hb2 = new float[c.hiddenDim];
        logits = new float[c.vocabSize];
        qkv = new float[][] {q, k, v};
        gateUp = new float[][] {hb, hb2};
        keyCache = new float[c.layers][(int) Math.min(Integer.MAX_VALUE - 8, (long) capacity * c.kvDim)];
        valueCache = new float[c.layers][keyCache[0].length];
        attentionNorm = new float[c.layers][];
        ffnNorm = new float[c.layers][];
        bq = new float[c.layers][];
        bk = new float[c.layers][];
        bv = new float[c.layers][];
        bo = new float[c.layers][];
        for (int l = 0; l < c.layers; l++) {
            attentionNorm[l] = w.attentionNorm[l].toFloats();
            ffnNorm[l] = w.ffnNorm[l].toFloats();
            bq[l] = floatsOrNull(w.bq[l]);
            bk[l] = floatsOrNull(w.bk[l]);
            bv[l] = floatsOrNull(w.bv[l]);
            bo[l] = floatsOrNull(w.bo[l]);
        }
        finalNorm = w.finalNorm.toFloats();
        invFreq = c.ropeScaling.inverseFrequencies(c.headDim, c.ropeTheta);
        cos = new float[c.headDim / 2];
        sin = new float[c.headDim / 2];
    }

    private static float[] floatsOrNull(Tensor t) {
        return t == null ? null : t.toFloats();
    }

    @Override
    public int position() {
        return position;
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public long lastStepComputeNanos() {
        return lastStepNanos;
    }

    @Override
    public long kvCacheBytes() {
        return 2L * keyCache.length * keyCache[0].length * Float.BYTES;
    }

    @Override
    public float[] step(int[] tokens) {
        Sequence.checkStep(tokens, position, capacity, c.vocabSize);
        long before = engine.cpuNanos();
        for (int i = 0; i < tokens.length; i++) {
            forward(tokens[i], position, i == tokens.length - 1);
            position++;
        }
        lastStepNanos = Math.max(0, engine.cpuNanos() - before);
        return logits;
    }

    /** One token through the whole network; logits only when asked (the last prompt token, each decode). */
    private void forward(int token, int pos, boolean wantLogits) {
        int dim = c.dim;
        // token embedding
        w.tokenEmbedding.row(token, x);
        ropeTables(pos);
        for (int l = 0; l < c.layers; l++) {
            // attention rmsnorm
            CpuOps.rmsnorm(xb, x, attentionNorm[l], dim, c.rmsNormEps);
            // q, k, v projections (+ biases)
            engine.matvec(xb, new Tensor[] {w.wq[l], w.wk[l], w.wv[l]}, qkv);
            addBias(q, bq[l]);
            addBias(k, bk[l]);
            addBias(v, bv[l]);
            // RoPE on queries and keys
            CpuOps.rope(q, c.heads, c.headDim, cos, sin);
            CpuOps.rope(k, c.kvHeads, c.headDim, cos, sin);
            // append to the KV cache
            System.arraycopy(k, 0, keyCache[l], pos * c.kvDim, c.kvDim);
            System.arraycopy(v, 0, valueCache[l], pos * c.kvDim, c.kvDim);
            // grouped-query attention over positions [first, pos]
            attention(l, pos);
            // output projection and residual
            engine.matvec(w.wo[l], att, xb2);
            addBias(xb2, bo[l]);
            CpuOps.add(x, xb2, dim);
            // ffn rmsnorm, SwiGLU, residual
            CpuOps.rmsnorm(xb, x, ffnNorm[l], dim, c.rmsNormEps);
            engine.matvec(xb, new Tensor[] {w.wGate[l], w.wUp[l]}, gateUp);
            CpuOps.swiglu(hb, hb2, c.hiddenDim);
            engine.matvec(w.wDown[l], hb, xb2);
            CpuOps.add(x, xb2, dim);
        }
        if (wantLogits) {
            // final rmsnorm and classifier
            CpuOps.rmsnorm(xb, x, finalNorm, dim, c.rmsNormEps);
            engine.matvec(w.output, xb, logits);
        }
    }

    /** Grouped-query attention of every head over positions {@code [first, pos]}, heads split over the team. */
    private void attention(int layer, int pos) {
        int headDim = c.headDim;
        int first = c.slidingWindow > 0 ? Math.max(0, pos - c.slidingWindow + 1) : 0;
        int span = pos - first + 1;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        float[] keys = keyCache[layer];
        float[] values = valueCache[layer];
        engine.parallel((part, parts) -> {
            for (int h = c.heads * part / parts; h < c.heads * (part + 1) / parts; h++) {
                int qBase = h * headDim;
                int kvBase = (h / c.groupSize) * headDim;
                int sBase = h * capacity;
                for (int t = first; t <= pos; t++) {
                    scores[sBase + t - first] = kernels.dot(q, qBase, keys, t * c.kvDim + kvBase, headDim) * scale;
                }
                CpuOps.softmax(scores, sBase, span);
                java.util.Arrays.fill(att, qBase, qBase + headDim, 0f);
                for (int t = first; t <= pos; t++) {
                    kernels.axpy(scores[sBase + t - first], values, t * c.kvDim + kvBase, att, qBase, headDim);
                }
            }
        });
    }

    private void ropeTables(int pos) {
        for (int i = 0; i < invFreq.length; i++) {
            double angle = pos * invFreq[i];
            cos[i] = (float) Math.cos(angle);
            sin[i] = (float) Math.sin(angle);
        }
    }

    private static void addBias(float[] x, float[] bias) {
        if (bias != null) {
            CpuOps.add(x, bias, bias.length);
        }
    }

    @Override
    public void close() {
        // Heap arrays only: nothing to release eagerly.
    }
}
