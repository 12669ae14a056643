package io.diem.agent.model;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import io.diem.agent.tokenizer.SpecialTokens;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The shape of a Llama-family decoder, read from a Hugging Face {@code config.json}. Immutable; the
 * constructor derives what follows from the rest ({@code headDim}, {@code kvDim}, group size).
 */
public final class ModelConfig {

    /** {@code model_type} values this engine runs: all are RMSNorm + RoPE + GQA + SwiGLU decoders. */
    public static final Set<String> SUPPORTED_TYPES = Set.of("llama", "mistral", "qwen2");

    public final String modelType;
    /** Residual stream width ({@code hidden_size}). */
    public final int dim;
    /** SwiGLU inner width ({@code intermediate_size}). */
    public final int hiddenDim;
    public final int layers;
    public final int heads;
    public final int kvHeads;
    public final int headDim;
    /** Query heads per key/value head. */
    public final int groupSize;
    /** {@code heads * headDim}: width of the attention output. */
    public final int qDim;
    /** {@code kvHeads * headDim}: width of one position's keys (or values). */
    public final int kvDim;
    public final int vocabSize;
    /** Longest sequence (prompt + completion) in tokens. */
    public final int contextLength;
    public final float rmsNormEps;
    public final double ropeTheta;
    public final RopeScaling ropeScaling;
    public final boolean tieWordEmbeddings;
    /** q/k/v projections carry biases (Qwen2, or Llama with {@code attention_bias}). */
    public final boolean qkvBias;
    /** o_proj carries a bias (Llama with {@code attention_bias}). */
    public final boolean outputBias;
    /** Attention window in tokens; {@code 0} means full causal attention. */
    public final int slidingWindow;
    /** -1 when the config names none. */
    public final int bosTokenId;
    public final List<Integer> eosTokenIds;

    public ModelConfig(String modelType, int dim, int hiddenDim, int layers, int heads, int kvHeads, int headDim,
            int vocabSize, int contextLength, float rmsNormEps, double ropeTheta, RopeScaling ropeScaling,
            boolean tieWordEmbeddings, boolean qkvBias, boolean outputBias, int slidingWindow, int bosTokenId,
            List<Integer> eosTokenIds) {
        this.modelType = modelType;
        this.dim = dim;
        this.hiddenDim = hiddenDim;
        this.layers = layers;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.vocabSize = vocabSize;
        this.contextLength = contextLength;
        this.rmsNormEps = rmsNormEps;
        this.ropeTheta = ropeTheta;
        this.ropeScaling = ropeScaling;
        this.tieWordEmbeddings = tieWordEmbeddings;
        this.qkvBias = qkvBias;
        this.outputBias = outputBias;
        this.slidingWindow = slidingWindow;
        this.bosTokenId = bosTokenId;
        this.eosTokenIds = List.copyOf(eosTokenIds);
        this.groupSize = heads / kvHeads;
        this.qDim = heads * headDim;
        this.kvDim = kvHeads * headDim;
    }

    /** Reads and validates {@code config.json}. */
    public static ModelConfig read(Path configJson) throws ModelLoadException {
        JsonObject json;
        try {
            json = JsonParser.parseString(Files.readString(configJson, StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (IOException | JsonParseException | IllegalStateException e) {
            throw new ModelLoadException(configJson + ": not a readable JSON object: " + e.getMessage(), e);
        }
        try {
            return fromJson(json, configJson.toString());
        } catch (ClassCastException | UnsupportedOperationException | NumberFormatException | IllegalStateException e) {
            throw new ModelLoadException(configJson + ": a field has the wrong type: " + e.getMessage(), e);
        }
    }

    static ModelConfig fromJson(JsonObject json, String file) throws ModelLoadException {
        String type = string(json, "model_type", null);
        if (type == null) {
            throw new ModelLoadException(file + ": missing \"model_type\"");
        }
        type = type.toLowerCase(Locale.ROOT);
        if (!SUPPORTED_TYPES.contains(type)) {
            throw new ModelLoadException(file + ": unsupported architecture \"" + type
                    + "\" (this engine runs " + String.join(", ", SUPPORTED_TYPES.stream().sorted().toList()) + ")");
        }
        String act = string(json, "hidden_act", "silu");
        if (!act.equals("silu")) {
            throw new ModelLoadException(file + ": unsupported activation \"" + act + "\" (only silu)");
        }
        int dim = positive(json, "hidden_size", file);
        int hidden = positive(json, "intermediate_size", file);
        int layers = positive(json, "num_hidden_layers", file);
        int heads = positive(json, "num_attention_heads", file);
        int kvHeads = json.has("num_key_value_heads") && !json.get("num_key_value_heads").isJsonNull()
                ? positive(json, "num_key_value_heads", file) : heads;
        int headDim = json.has("head_dim") && !json.get("head_dim").isJsonNull()
                ? positive(json, "head_dim", file) : dim / heads;
        if (heads % kvHeads != 0) {
            throw new ModelLoadException(file + ": num_attention_heads (" + heads
                    + ") is not a multiple of num_key_value_heads (" + kvHeads + ")");
        }
        if (headDim % 2 != 0) {
            throw new ModelLoadException(file + ": head dimension " + headDim + " is odd; RoPE needs pairs");
        }
        int vocab = positive(json, "vocab_size", file);
        int context = json.has("max_position_embeddings") ? positive(json, "max_position_embeddings", file) : 2048;
        float eps = (float) number(json, "rms_norm_eps", 1e-6);

        // rope_theta / rope_scaling live at the top level, or inside rope_parameters (newer transformers).
        JsonObject rope = json.has("rope_parameters") && json.get("rope_parameters").isJsonObject()
                ? json.getAsJsonObject("rope_parameters") : null;
        double theta = rope != null && rope.has("rope_theta") ? rope.get("rope_theta").getAsDouble()
                : number(json, "rope_theta", 10000.0);
        JsonObject scaling = json.has("rope_scaling") && json.get("rope_scaling").isJsonObject()
                ? json.getAsJsonObject("rope_scaling") : rope;
        RopeScaling ropeScaling = ropeScaling(scaling, file);

        boolean tie = json.has("tie_word_embeddings") && json.get("tie_word_embeddings").getAsBoolean();
        boolean attentionBias = json.has("attention_bias") && json.get("attention_bias").getAsBoolean();
        boolean qkvBias = type.equals("qwen2") || attentionBias;
        int window = 0;
        if (json.has("sliding_window") && !json.get("sliding_window").isJsonNull()) {
            boolean used = !type.equals("qwen2")
                    || (json.has("use_sliding_window") && json.get("use_sliding_window").getAsBoolean());
            int w = json.get("sliding_window").getAsInt();
            if (used && w > 0 && w < context) {
                window = w;
            }
        }
        int bos = json.has("bos_token_id") && !json.get("bos_token_id").isJsonNull()
                ? json.get("bos_token_id").getAsInt() : -1;
        return new ModelConfig(type, dim, hidden, layers, heads, kvHeads, headDim, vocab, context, eps, theta,
                ropeScaling, tie, qkvBias, attentionBias, window, bos, SpecialTokens.idsOf(json.get("eos_token_id")));
    }

    static RopeScaling ropeScaling(JsonObject scaling, String file) throws ModelLoadException {
        if (scaling == null) {
            return RopeScaling.NONE;
        }
        String kind = string(scaling, "rope_type", string(scaling, "type", "default"));
        switch (kind) {
            case "default":
                return RopeScaling.NONE;
            case "linear":
                return new RopeScaling(RopeScaling.Kind.LINEAR, number(scaling, "factor", 1.0), 1, 1, 0);
            case "llama3":
                return new RopeScaling(RopeScaling.Kind.LLAMA3,
                        number(scaling, "factor", 8.0),
                        number(scaling, "low_freq_factor", 1.0),
                        number(scaling, "high_freq_factor", 4.0),
                        (int) number(scaling, "original_max_position_embeddings", 8192));
            default:
                throw new ModelLoadException(file + ": unsupported rope scaling \"" + kind
                        + "\" (supported: default, linear, llama3)");
        }
    }

    private static String string(JsonObject json, String key, String fallback) {
        JsonElement e = json.get(key);
        return e == null || e.isJsonNull() ? fallback : e.getAsString();
    }

    private static double number(JsonObject json, String key, double fallback) {
        JsonElement e = json.get(key);
        return e == null || e.isJsonNull() ? fallback : e.getAsDouble();
    }

    private static int positive(JsonObject json, String key, String file) throws ModelLoadException {
        JsonElement e = json.get(key);
        if (e == null || e.isJsonNull()) {
            throw new ModelLoadException(file + ": missing \"" + key + "\"");
        }
        int value = e.getAsInt();
        if (value <= 0) {
            throw new ModelLoadException(file + ": \"" + key + "\" must be positive, got " + value);
        }
        return value;
    }

    /** Parameters in the weights this config implies. */
    public long parameterCount() {
        long perLayer = 2L * dim
                + (long) qDim * dim + 2L * kvDim * dim + (long) dim * qDim
                + 3L * hiddenDim * dim
                + (qkvBias ? qDim + 2L * kvDim : 0) + (outputBias ? dim : 0);
        return (long) vocabSize * dim * (tieWordEmbeddings ? 1 : 2) + dim + layers * perLayer;
    }

    @Override
    public String toString() {
        return modelType + "(dim=" + dim + ", hidden=" + hiddenDim + ", layers=" + layers + ", heads=" + heads
                + ", kvHeads=" + kvHeads + ", headDim=" + headDim + ", vocab=" + vocabSize + ", context="
                + contextLength + ")";
    }
}
