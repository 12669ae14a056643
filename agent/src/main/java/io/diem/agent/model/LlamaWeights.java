package io.diem.agent.model;

/**
 * The weights of a Llama-family decoder, as Hugging Face names them, checked against the config's
 * shapes. Immutable. Matrices are {@code (out, in)}: row {@code i} produces output element {@code i}.
 */
public final class LlamaWeights {

    /** (vocab, dim) — {@code model.embed_tokens.weight}. */
    public final Tensor tokenEmbedding;
    /** (layer)(dim) — {@code input_layernorm}. */
    public final Tensor[] attentionNorm;
    /** (layer)(heads·headDim, dim). */
    public final Tensor[] wq;
    /** (layer)(kvHeads·headDim, dim). */
    public final Tensor[] wk;
    /** (layer)(kvHeads·headDim, dim). */
    public final Tensor[] wv;
    /** (layer)(dim, heads·headDim). */
    public final Tensor[] wo;
    /** (layer)(heads·headDim) or null entries when the model has no q/k/v biases. */
    public final Tensor[] bq;
    public final Tensor[] bk;
    public final Tensor[] bv;
    /** (layer)(dim) or null entries when o_proj has no bias. */
    public final Tensor[] bo;
    /** (layer)(dim) — {@code post_attention_layernorm}. */
    public final Tensor[] ffnNorm;
    /** (layer)(hidden, dim) — SwiGLU gate. */
    public final Tensor[] wGate;
    /** (layer)(hidden, dim). */
    public final Tensor[] wUp;
    /** (layer)(dim, hidden). */
    public final Tensor[] wDown;
    /** (dim) — {@code model.norm.weight}. */
    public final Tensor finalNorm;
    /** (vocab, dim) — {@code lm_head.weight}, or the embedding when tied. */
    public final Tensor output;

    LlamaWeights(Tensor tokenEmbedding, Tensor[] attentionNorm, Tensor[] wq, Tensor[] wk, Tensor[] wv, Tensor[] wo,
            Tensor[] bq, Tensor[] bk, Tensor[] bv, Tensor[] bo, Tensor[] ffnNorm, Tensor[] wGate, Tensor[] wUp,
            Tensor[] wDown, Tensor finalNorm, Tensor output) {
        this.tokenEmbedding = tokenEmbedding;
        this.attentionNorm = attentionNorm;
        this.wq = wq;
        this.wk = wk;
        this.wv = wv;
        this.wo = wo;
        this.bq = bq;
        this.bk = bk;
        this.bv = bv;
        this.bo = bo;
        this.ffnNorm = ffnNorm;
        this.wGate = wGate;
        this.wUp = wUp;
        this.wDown = wDown;
        this.finalNorm = finalNorm;
        this.output = output;
    }

    /** The element type of the large matrices (what a device copy would hold). */
    public DType dtype() {
        return wq[0].dtype;
    }

    /** Every distinct tensor, embedding first. */
    public java.util.List<Tensor> all() {
        java.util.List<Tensor> list = new java.util.ArrayList<>();
        list.add(tokenEmbedding);
        for (Tensor[] group : new Tensor[][] {attentionNorm, wq, wk, wv, wo, bq, bk, bv, bo, ffnNorm, wGate, wUp, wDown}) {
            for (Tensor t : group) {
                if (t != null) {
                    list.add(t);
                }
            }
        }
        list.add(finalNorm);
        if (output != tokenEmbedding) {
            list.add(output);
        }
        return list;
    }

    /** Bytes of all weights as stored (tied embeddings counted once). */
    public long bytes() {
        long total = 0;
        for (Tensor t : all()) {
            total += t.elements() * t.dtype.bytes;
        }
        return total;
    }
}
