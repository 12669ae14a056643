package io.diem.agent.model;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import io.diem.agent.tokenizer.SpecialTokens;
import io.diem.agent.tokenizer.Tokenizer;
import io.diem.agent.tokenizer.TokenizerLoadException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Loads a Hugging Face model directory: {@code config.json}, one or more {@code *.safetensors}
 * (listed by {@code model.safetensors.index.json} when present), {@code tokenizer.json}, and the
 * optional {@code tokenizer_config.json} and {@code generation_config.json}. Every tensor the
 * architecture needs is looked up and its shape checked before anything is computed.
 */
public final class ModelLoader {

    private final PrintStream progress;

    /** @param progress where to report progress for large models, or null for silence */
    public ModelLoader(PrintStream progress) {
        this.progress = progress;
    }

    public Model load(Path dir) throws ModelLoadException {
        return load(dir, dir.toAbsolutePath().normalize().getFileName().toString());
    }

    public Model load(Path dir, String name) throws ModelLoadException {
        if (!Files.isDirectory(dir)) {
            throw new ModelLoadException(dir + ": not a model directory");
        }
        Path configFile = dir.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new ModelLoadException(dir + ": missing config.json");
        }
        ModelConfig config = ModelConfig.read(configFile);
        Tokenizer tokenizer;
        try {
            tokenizer = Tokenizer.load(dir, new SpecialTokens(config.bosTokenId, config.eosTokenIds));
        } catch (TokenizerLoadException e) {
            throw new ModelLoadException(e.getMessage(), e);
        }
        if (tokenizer.vocabularySize() > config.vocabSize) {
            throw new ModelLoadException(dir.resolve("tokenizer.json") + ": tokenizer has " + tokenizer.vocabularySize()
                    + " tokens but the model's vocab_size is " + config.vocabSize);
        }
        Map<String, SafeTensorsFile> byTensor = indexTensors(dir);
        LlamaWeights weights = new WeightBinder(config, byTensor).bind();
        if (progress != null && weights.bytes() > io.diem.common.Progress.LARGE_BYTES) {
            // Read the pages in now, with progress, rather than on the first job.
            io.diem.common.Progress p = io.diem.common.Progress.of(progress, "loading " + name, weights.bytes());
            for (Tensor t : weights.all()) {
                t.prefault();
                p.add(t.elements() * t.dtype.bytes);
            }
            p.done();
        }
        return new Model(name, dir, config, weights, tokenizer);
    }

    /** tensor name → the file that holds it. */
    static Map<String, SafeTensorsFile> indexTensors(Path dir) throws ModelLoadException {
        List<Path> files = new ArrayList<>();
        Path index = dir.resolve("model.safetensors.index.json");
        if (Files.isRegularFile(index)) {
            try {
                JsonObject weightMap = JsonParser.parseString(Files.readString(index, StandardCharsets.UTF_8))
                        .getAsJsonObject().getAsJsonObject("weight_map");
                if (weightMap == null) {
                    throw new ModelLoadException(index + ": no \"weight_map\"");
                }
                SortedSet<String> shards = new TreeSet<>();
                for (Map.Entry<String, JsonElement> e : weightMap.entrySet()) {
                    shards.add(e.getValue().getAsString());
                }
                for (String shardName : shards) {
                    Path shard = dir.resolve(shardName).normalize();
                    if (!shard.startsWith(dir.normalize())) {
                        throw new ModelLoadException(index + ": shard " + shardName + " lies outside the model directory");
                    }
                    if (!Files.isRegularFile(shard)) {
                        throw new ModelLoadException(index + ": lists shard " + shardName + ", which is missing");
                    }
                    files.add(shard);
                }
            } catch (IOException | JsonParseException | IllegalStateException | ClassCastException e) {
                if (e instanceof ModelLoadException m) {
                    throw m;
                }
                throw new ModelLoadException(index + ": malformed: " + e.getMessage(), e);
            }
        } else {
            try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir, "*.safetensors")) {
                stream.forEach(files::add);
            } catch (IOException e) {
                throw new ModelLoadException(dir + ": cannot list: " + e.getMessage(), e);
            }
            files.sort(null);
        }
        if (files.isEmpty()) {
            throw new ModelLoadException(dir + ": no *.safetensors files");
        }
        Map<String, SafeTensorsFile> byTensor = new TreeMap<>();
        for (Path file : files) {
            SafeTensorsFile st = SafeTensorsFile.open(file);
            for (String tensor : st.entries().keySet()) {
                SafeTensorsFile previous = byTensor.put(tensor, st);
                if (previous != null) {
                    throw new ModelLoadException("tensor " + tensor + " appears in both " + previous.path() + " and " + file);
                }
            }
        }
        return byTensor;
    }

    /** Looks up and shape-checks every tensor of the architecture. */
    private static final class WeightBinder {
        private final ModelConfig c;
        private final Map<String, SafeTensorsFile> files;
        private final Map<String, Tensor> mapped = new HashMap<>();

        WeightBinder(ModelConfig config, Map<String, SafeTensorsFile> files) {
            this.c = config;
            this.files = files;
        }

        LlamaWeights bind() throws ModelLoadException {
            int n = c.layers;
            Tensor[] attnNorm = new Tensor[n], wq = new Tensor[n], wk = new Tensor[n], wv = new Tensor[n],
                    wo = new Tensor[n], bq = new Tensor[n], bk = new Tensor[n], bv = new Tensor[n], bo = new Tensor[n],
                    ffnNorm = new Tensor[n], gate = new Tensor[n], up = new Tensor[n], down = new Tensor[n];
            for (int l = 0; l < n; l++) {
                String p = "model.layers." + l + ".";
                attnNorm[l] = require(p + "input_layernorm.weight", c.dim);
                wq[l] = require(p + "self_attn.q_proj.weight", c.qDim, c.dim);
                wk[l] = require(p + "self_attn.k_proj.weight", c.kvDim, c.dim);
                wv[l] = require(p + "self_attn.v_proj.weight", c.kvDim, c.dim);
                wo[l] = require(p + "self_attn.o_proj.weight", c.dim, c.qDim);
                if (c.qkvBias) {
                    bq[l] = require(p + "self_attn.q_proj.bias", c.qDim);
                    bk[l] = require(p + "self_attn.k_proj.bias", c.kvDim);
                    bv[l] = require(p + "self_attn.v_proj.bias", c.kvDim);
                }
                if (c.outputBias) {
                    bo[l] = require(p + "self_attn.o_proj.bias", c.dim);
                }
                ffnNorm[l] = require(p + "post_attention_layernorm.weight", c.dim);
                gate[l] = require(p + "mlp.gate_proj.weight", c.hiddenDim, c.dim);
                up[l] = require(p + "mlp.up_proj.weight", c.hiddenDim, c.dim);
                down[l] = require(p + "mlp.down_proj.weight", c.dim, c.hiddenDim);
            }
            Tensor embedding = require("model.embed_tokens.weight", c.vocabSize, c.dim);
            Tensor finalNorm = require("model.norm.weight", c.dim);
            Tensor output = c.tieWordEmbeddings && !files.containsKey("lm_head.weight")
                    ? embedding : require("lm_head.weight", c.vocabSize, c.dim);
            return new LlamaWeights(embedding, attnNorm, wq, wk, wv, wo, bq, bk, bv, bo, ffnNorm, gate, up, down,
                    finalNorm, output);
        }

        private Tensor require(String name, long... shape) throws ModelLoadException {
            SafeTensorsFile file = files.get(name);
            if (file == null) {
                throw new ModelLoadException("missing tensor " + name + " (expected shape " + Arrays.toString(shape)
                        + " for " + c + ")");
            }
            long[] actual = file.entries().get(name).shape();
            if (!Arrays.equals(actual, shape)) {
                throw new ModelLoadException(file.path() + ": tensor " + name + " has shape " + Arrays.toString(actual)
                        + ", expected " + Arrays.toString(shape) + " for " + c);
            }
            Tensor t = mapped.get(name);
            if (t == null) {
                t = file.map(name);
                mapped.put(name, t);
            }
            return t;
        }
    }
}
