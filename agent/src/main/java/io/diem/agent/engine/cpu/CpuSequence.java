package io.diem.agent.engine.cpu;

import io.diem.agent.engine.Sequence;
import io.diem.agent.model.LlamaWeights;
import io.diem.agent.model.Model;
import io.diem.agent.model.ModelConfig;
import io.diem.agent.model.Tensor;

/**
 * One sequence on the CPU engine: its position, its logits, and its KV cache as blocks of
 * {@link CpuEngine#KV_BLOCK_TOKENS} positions, taken from the engine as the sequence grows and given
 * back when it closes. The forward pass itself is {@link CpuBatch}, which runs one step over any
 * number of sequences; stepping this sequence alone is a batch of one.
 */
final class CpuSequence implements Sequence {

    final CpuEngine engine;
    final Model model;
    final ModelConfig c;
    final LlamaWeights w;
    private final int capacity;
    int position;
    private long lastStepNanos;
    /** (vocab) logits of the last step. */
    final float[] logits;
    /** (layer)(block) keys and values: block b holds positions [b·B, (b+1)·B), kvDim floats each. */
    final float[][][] keyBlocks;
    final float[][][] valueBlocks;
    private int blocks;
    private boolean closed;
    /** Norm weights as float32, loaded once: (layer)(dim). */
    final float[][] attentionNorm;
    final float[][] ffnNorm;
    final float[] finalNorm;
    /** (layer) biases or null. */
    final float[][] bq;
    final float[][] bk;
    final float[][] bv;
    final float[][] bo;
    /** (headDim/2) RoPE inverse frequencies. */
    final double[] invFreq;

    CpuSequence(CpuEngine engine, Model model, int capacity) {
        this.engine = engine;
        this.model = model;
        this.c = model.config();
        this.w = model.weights();
        if (capacity < 2 || capacity > c.contextLength) {
            throw new IllegalArgumentException("sequence capacity must be 2.." + c.contextLength + ", got " + capacity);
        }
        this.capacity = capacity;
        logits = new float[c.vocabSize];
        int maxBlocks = (capacity + CpuEngine.KV_BLOCK_TOKENS - 1) / CpuEngine.KV_BLOCK_TOKENS;
        keyBlocks = new float[c.layers][maxBlocks][];
        valueBlocks = new float[c.layers][maxBlocks][];
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

    /** Bytes the KV blocks this sequence holds now take. */
    @Override
    public long kvCacheBytes() {
        return (long) blocks * engine.kvBlockBytes(c);
    }

    /** KV blocks held now. */
    int kvBlocks() {
        return blocks;
    }

    /** Makes sure positions up to {@code last} have KV blocks (taken from the engine's pool). */
    void growTo(int last) {
        int need = last / CpuEngine.KV_BLOCK_TOKENS + 1;
        while (blocks < need) {
            for (int l = 0; l < c.layers; l++) {
                keyBlocks[l][blocks] = engine.takeKvBlock(c.kvDim);
                valueBlocks[l][blocks] = engine.takeKvBlock(c.kvDim);
            }
            blocks++;
        }
    }

    @Override
    public float[] step(int[] tokens) {
        Sequence.checkStep(tokens, position, capacity, c.vocabSize);
        var step = engine.stepAll(java.util.List.of(this), java.util.List.of(tokens));
        lastStepNanos = step.computeNanos();
        return logits;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (int b = 0; b < blocks; b++) {
            for (int l = 0; l < c.layers; l++) {
                engine.giveKvBlock(keyBlocks[l][b]);
                engine.giveKvBlock(valueBlocks[l][b]);
                keyBlocks[l][b] = null;
                valueBlocks[l][b] = null;
            }
        }
        blocks = 0;
    }
}
