package io.diem.agent.model;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.diem.agent.tokenizer.BpeTrainer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Writes a complete random Llama-family model in Hugging Face layout ({@code config.json},
 * {@code model.safetensors}, {@code tokenizer.json}, {@code tokenizer_config.json},
 * {@code generation_config.json}) with the standard tensor names, so other tools read it too.
 *
 * <p>The tokenizer is a real byte-level BPE learned from a built-in English corpus (the same for
 * every seed), padded with reserved special tokens up to the preset's vocabulary size. Weights are
 * Gaussian, deterministic for a seed, and scaled so activations stay in range: projections by
 * {@code 1/sqrt(fan_in)}, the projections that feed the residual stream further by
 * {@code 1/sqrt(2·layers)}, norm weights near 1.
 */
public final class TestModelMaker {

    /** The Llama 3 pre-tokenizer split pattern. */
    public static final String LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    static final List<String> SPECIAL_TOKENS = List.of(
            "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>");

    static final String LLAMA3_CHAT_TEMPLATE = "{{ bos_token }}{% for message in messages %}"
            + "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim"
            + " + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}"
            + "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

    private static final String CORPUS = """
            The node agent runs models on the GPUs of its machine and reports what each job used. \
            Every staked DIEM is worth one dollar of inference per day, and the gateway admits a call only \
            while the caller's credit still covers it. Providers install the agent, approve nothing by hand, \
            and are paid for the GPU-seconds their receipts prove. The ledger keeps integers: micro-dollars, \
            micro-tokens, microseconds. Nothing is lost when a process dies; nothing is booked twice.
            A small model is enough to test the whole path: tokenize the prompt, run the layers, sample a \
            token, stream it back, and meter the time. The tokenizer learns its merges from this text, so \
            common words like the, and, of, token, model, time and stream become single tokens.
            Numbers such as 2026, 1.5, 128256 and 3,600 appear too, with punctuation: (a), [b], {c}; "quoted"!
            Café, naïve, résumé, 東京, 🙂 — bytes outside ASCII still round-trip through the byte alphabet.
            def forward(x): return norm(x) + attention(x) + mlp(x)
            In the morning the scheduler drains its queue; in the evening the epoch closes and yield is paid.
            """;

    /** Shapes of the presets. */
    public enum Preset {
        /** For tests: a few hundred thousand parameters. */
        TINY(64, 192, 2, 4, 2, 0, 256, DType.F32, 10000, false, 256),
        /** llama2.c stories110M's shape, for CPU speed tests (F32, 32,000 tokens). */
        SMALL(768, 2048, 12, 12, 12, 32000, 1024, DType.F32, 10000, false, 1024),
        /** Llama-3.2-1B's shape (random weights), for GPU speed tests. */
        ONE_B(2048, 8192, 16, 32, 8, 128256, 131072, DType.BF16, 500000, true, 1024);

        final int dim, hidden, layers, heads, kvHeads, vocab, context;
        final DType dtype;
        final double ropeTheta;
        final boolean llama3Rope;
        final int merges;

        Preset(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int context, DType dtype,
                double ropeTheta, boolean llama3Rope, int merges) {
            this.dim = dim;
            this.hidden = hidden;
            this.layers = layers;
            this.heads = heads;
            this.kvHeads = kvHeads;
            this.vocab = vocab;
            this.context = context;
            this.dtype = dtype;
            this.ropeTheta = ropeTheta;
            this.llama3Rope = llama3Rope;
            this.merges = merges;
        }

        public static Preset parse(String name) {
            return switch (name.toLowerCase(Locale.ROOT)) {
                case "tiny" -> TINY;
                case "small" -> SMALL;
                case "1b" -> ONE_B;
                default -> throw new IllegalArgumentException("unknown preset '" + name + "' (tiny, small, 1b)");
            };
        }
    }

    /** Variations for tests: Qwen2-style q/k/v biases, tied embeddings, another dtype. */
    public record Options(Preset preset, long seed, DType dtype, boolean qkvBias, boolean tieEmbeddings,
            boolean shard) {
        public static Options of(Preset preset, long seed) {
            return new Options(preset, seed, preset.dtype, false, preset == Preset.ONE_B, false);
        }
    }

    private TestModelMaker() {}

    public static void make(Path out, Options o) throws IOException {
        make(out, o, null);
    }

    /** As {@link #make(Path, Options)}, reporting the weights written to {@code progress} (null: silent). */
    public static void make(Path out, Options o, java.io.PrintStream progress) throws IOException {
        Files.createDirectories(out);
        Preset p = o.preset();
        BpeTrainer.Result bpe = BpeTrainer.train(CORPUS, LLAMA3_SPLIT, p.merges);
        List<String> tokens = new ArrayList<>(bpe.tokens());
        int firstSpecial = tokens.size();
        int vocab = p.vocab > 0 ? p.vocab : firstSpecial + SPECIAL_TOKENS.size();
        if (vocab < firstSpecial + SPECIAL_TOKENS.size()) {
            throw new IllegalStateException("vocab " + vocab + " too small for " + firstSpecial + " BPE tokens");
        }
        writeTokenizer(out, bpe, firstSpecial, vocab);
        int bos = firstSpecial;
        int eos = firstSpecial + 1;
        int eot = firstSpecial + 4;
        writeConfig(out, o, vocab, bos, eos);
        writeJson(out.resolve("generation_config.json"), generationConfig(bos, eos, eot));
        writeWeights(out, o, vocab, progress);
    }

    private static void writeTokenizer(Path out, BpeTrainer.Result bpe, int firstSpecial, int vocab) throws IOException {
        JsonObject json = new JsonObject();
        json.addProperty("version", "1.0");
        JsonArray added = new JsonArray();
        for (int id = firstSpecial; id < vocab; id++) {
            int i = id - firstSpecial;
            String content = i < SPECIAL_TOKENS.size() ? SPECIAL_TOKENS.get(i)
                    : "<|reserved_special_token_" + (i - SPECIAL_TOKENS.size()) + "|>";
            JsonObject t = new JsonObject();
            t.addProperty("id", id);
            t.addProperty("content", content);
            t.addProperty("single_word", false);
            t.addProperty("lstrip", false);
            t.addProperty("rstrip", false);
            t.addProperty("normalized", false);
            t.addProperty("special", true);
            added.add(t);
        }
        json.add("added_tokens", added);
        json.add("normalizer", null);
        JsonObject pre = new JsonObject();
        pre.addProperty("type", "Sequence");
        JsonArray pres = new JsonArray();
        JsonObject split = new JsonObject();
        split.addProperty("type", "Split");
        JsonObject pattern = new JsonObject();
        pattern.addProperty("Regex", LLAMA3_SPLIT);
        split.add("pattern", pattern);
        split.addProperty("behavior", "Isolated");
        split.addProperty("invert", false);
        pres.add(split);
        JsonObject byteLevel = new JsonObject();
        byteLevel.addProperty("type", "ByteLevel");
        byteLevel.addProperty("add_prefix_space", false);
        byteLevel.addProperty("trim_offsets", true);
        byteLevel.addProperty("use_regex", false);
        pres.add(byteLevel);
        pre.add("pretokenizers", pres);
        json.add("pre_tokenizer", pre);

        JsonObject post = new JsonObject();
        post.addProperty("type", "TemplateProcessing");
        JsonArray single = new JsonArray();
        single.add(specialPiece(SPECIAL_TOKENS.get(0)));
        JsonObject seq = new JsonObject();
        JsonObject seqInner = new JsonObject();
        seqInner.addProperty("id", "A");
        seqInner.addProperty("type_id", 0);
        seq.add("Sequence", seqInner);
        single.add(seq);
        post.add("single", single);
        JsonObject specialTokens = new JsonObject();
        JsonObject bosEntry = new JsonObject();
        bosEntry.addProperty("id", SPECIAL_TOKENS.get(0));
        JsonArray ids = new JsonArray();
        ids.add(firstSpecial);
        bosEntry.add("ids", ids);
        JsonArray toks = new JsonArray();
        toks.add(SPECIAL_TOKENS.get(0));
        bosEntry.add("tokens", toks);
        specialTokens.add(SPECIAL_TOKENS.get(0), bosEntry);
        post.add("special_tokens", specialTokens);
        json.add("post_processor", post);

        JsonObject decoder = new JsonObject();
        decoder.addProperty("type", "ByteLevel");
        decoder.addProperty("add_prefix_space", true);
        decoder.addProperty("trim_offsets", true);
        decoder.addProperty("use_regex", true);
        json.add("decoder", decoder);

        JsonObject model = new JsonObject();
        model.addProperty("type", "BPE");
        model.add("dropout", null);
        model.add("unk_token", null);
        model.add("continuing_subword_prefix", null);
        model.add("end_of_word_suffix", null);
        model.addProperty("fuse_unk", false);
        model.addProperty("byte_fallback", false);
        model.addProperty("ignore_merges", true);
        JsonObject vocabJson = new JsonObject();
        for (int id = 0; id < bpe.tokens().size(); id++) {
            vocabJson.addProperty(bpe.tokens().get(id), id);
        }
        model.add("vocab", vocabJson);
        JsonArray merges = new JsonArray();
        for (String[] m : bpe.merges()) {
            JsonArray pair = new JsonArray();
            pair.add(m[0]);
            pair.add(m[1]);
            merges.add(pair);
        }
        model.add("merges", merges);
        json.add("model", model);
        writeJson(out.resolve("tokenizer.json"), json);

        JsonObject tokenizerConfig = new JsonObject();
        tokenizerConfig.addProperty("bos_token", SPECIAL_TOKENS.get(0));
        tokenizerConfig.addProperty("eos_token", SPECIAL_TOKENS.get(1));
        tokenizerConfig.addProperty("chat_template", LLAMA3_CHAT_TEMPLATE);
        tokenizerConfig.addProperty("model_max_length", 131072);
        tokenizerConfig.addProperty("tokenizer_class", "PreTrainedTokenizerFast");
        writeJson(out.resolve("tokenizer_config.json"), tokenizerConfig);
    }

    private static JsonObject specialPiece(String id) {
        JsonObject piece = new JsonObject();
        JsonObject inner = new JsonObject();
        inner.addProperty("id", id);
        inner.addProperty("type_id", 0);
        piece.add("SpecialToken", inner);
        return piece;
    }

    private static void writeConfig(Path out, Options o, int vocab, int bos, int eos) throws IOException {
        Preset p = o.preset();
        JsonObject c = new JsonObject();
        JsonArray arch = new JsonArray();
        arch.add(o.qkvBias() ? "Qwen2ForCausalLM" : "LlamaForCausalLM");
        c.add("architectures", arch);
        c.addProperty("model_type", o.qkvBias() ? "qwen2" : "llama");
        c.addProperty("hidden_size", p.dim);
        c.addProperty("intermediate_size", p.hidden);
        c.addProperty("num_hidden_layers", p.layers);
        c.addProperty("num_attention_heads", p.heads);
        c.addProperty("num_key_value_heads", p.kvHeads);
        c.addProperty("head_dim", p.dim / p.heads);
        c.addProperty("vocab_size", vocab);
        c.addProperty("max_position_embeddings", p.context);
        c.addProperty("rms_norm_eps", 1e-5);
        c.addProperty("rope_theta", p.ropeTheta);
        if (p.llama3Rope) {
            JsonObject scaling = new JsonObject();
            scaling.addProperty("rope_type", "llama3");
            scaling.addProperty("factor", 32.0);
            scaling.addProperty("low_freq_factor", 1.0);
            scaling.addProperty("high_freq_factor", 4.0);
            scaling.addProperty("original_max_position_embeddings", 8192);
            c.add("rope_scaling", scaling);
        } else {
            c.add("rope_scaling", null);
        }
        c.addProperty("tie_word_embeddings", o.tieEmbeddings());
        c.addProperty("attention_bias", false);
        c.addProperty("mlp_bias", false);
        c.addProperty("hidden_act", "silu");
        c.addProperty("bos_token_id", bos);
        c.addProperty("eos_token_id", eos);
        c.addProperty("torch_dtype", switch (o.dtype()) {
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
        });
        writeJson(out.resolve("config.json"), c);
    }

    private static JsonObject generationConfig(int bos, int eos, int eot) {
        JsonObject g = new JsonObject();
        g.addProperty("bos_token_id", bos);
        JsonArray eosIds = new JsonArray();
        eosIds.add(eos);
        eosIds.add(eot);
        g.add("eos_token_id", eosIds);
        g.addProperty("do_sample", true);
        g.addProperty("temperature", 0.6);
        g.addProperty("top_p", 0.9);
        return g;
    }

    private static void writeWeights(Path out, Options o, int vocab, java.io.PrintStream progressOut) throws IOException {
        Preset p = o.preset();
        int headDim = p.dim / p.heads;
        int qDim = p.heads * headDim;
        int kvDim = p.kvHeads * headDim;
        double residualScale = 1.0 / Math.sqrt(2.0 * p.layers);
        List<SafeTensorsWriter.Spec> specs = new ArrayList<>();
        long[] counter = {o.seed() * 1_000_003L};
        specs.add(gaussian("model.embed_tokens.weight", o, counter, 1.0 / Math.sqrt(p.dim), vocab, p.dim));
        for (int l = 0; l < p.layers; l++) {
            String pre = "model.layers." + l + ".";
            specs.add(norm(pre + "input_layernorm.weight", o, counter, p.dim));
            specs.add(gaussian(pre + "self_attn.q_proj.weight", o, counter, 1.0 / Math.sqrt(p.dim), qDim, p.dim));
            specs.add(gaussian(pre + "self_attn.k_proj.weight", o, counter, 1.0 / Math.sqrt(p.dim), kvDim, p.dim));
            specs.add(gaussian(pre + "self_attn.v_proj.weight", o, counter, 1.0 / Math.sqrt(p.dim), kvDim, p.dim));
            if (o.qkvBias()) {
                specs.add(gaussian(pre + "self_attn.q_proj.bias", o, counter, 0.02, qDim));
                specs.add(gaussian(pre + "self_attn.k_proj.bias", o, counter, 0.02, kvDim));
                specs.add(gaussian(pre + "self_attn.v_proj.bias", o, counter, 0.02, kvDim));
            }
            specs.add(gaussian(pre + "self_attn.o_proj.weight", o, counter, residualScale / Math.sqrt(qDim), p.dim, qDim));
            specs.add(norm(pre + "post_attention_layernorm.weight", o, counter, p.dim));
            specs.add(gaussian(pre + "mlp.gate_proj.weight", o, counter, 1.0 / Math.sqrt(p.dim), p.hidden, p.dim));
            specs.add(gaussian(pre + "mlp.up_proj.weight", o, counter, 1.0 / Math.sqrt(p.dim), p.hidden, p.dim));
            specs.add(gaussian(pre + "mlp.down_proj.weight", o, counter, residualScale / Math.sqrt(p.hidden), p.dim, p.hidden));
        }
        specs.add(norm("model.norm.weight", o, counter, p.dim));
        if (!o.tieEmbeddings()) {
            specs.add(gaussian("lm_head.weight", o, counter, 1.0 / Math.sqrt(p.dim), vocab, p.dim));
        }
        long total = specs.stream().mapToLong(t -> t.elements() * t.dtype().bytes).sum();
        io.diem.common.Progress progress = io.diem.common.Progress.ofLarge(progressOut,
                "writing " + out.getFileName() + " weights", total);
        if (o.shard()) {
            int half = specs.size() / 2;
            String first = "model-00001-of-00002.safetensors";
            String second = "model-00002-of-00002.safetensors";
            SafeTensorsWriter.write(out.resolve(first), specs.subList(0, half), progress::add);
            SafeTensorsWriter.write(out.resolve(second), specs.subList(half, specs.size()), progress::add);
            JsonObject index = new JsonObject();
            index.add("metadata", new JsonObject());
            JsonObject map = new JsonObject();
            for (int i = 0; i < specs.size(); i++) {
                map.addProperty(specs.get(i).name(), i < half ? first : second);
            }
            index.add("weight_map", map);
            writeJson(out.resolve("model.safetensors.index.json"), index);
        } else {
            SafeTensorsWriter.write(out.resolve("model.safetensors"), specs, progress::add);
        }
        progress.done();
    }

    /** N(0, std²) values from a stream seeded per tensor (so every tensor is reproducible alone). */
    private static SafeTensorsWriter.Spec gaussian(String name, Options o, long[] counter, double std, long... shape) {
        SplittableRandom random = new SplittableRandom(counter[0]++);
        return new SafeTensorsWriter.Spec(name, o.dtype(), shape, out -> {
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) (random.nextGaussian() * std);
            }
        });
    }

    /** Norm weights 1 + N(0, 0.1²): near 1, but not 1, so a missing norm weight shows in the tests. */
    private static SafeTensorsWriter.Spec norm(String name, Options o, long[] counter, int dim) {
        SplittableRandom random = new SplittableRandom(counter[0]++);
        return new SafeTensorsWriter.Spec(name, o.dtype(), new long[] {dim}, out -> {
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) (1 + 0.1 * random.nextGaussian());
            }
        });
    }

    private static void writeJson(Path file, JsonObject json) throws IOException {
        Files.writeString(file, new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().serializeNulls().create()
                .toJson(json) + "\n", StandardCharsets.UTF_8);
    }
}
