package io.diem.agent.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.diem.agent.engine.Cancellation;
import io.diem.agent.engine.GenerationRequest;
import io.diem.agent.engine.GenerationResult;
import io.diem.agent.engine.Generator;
import io.diem.agent.engine.InferenceEngine;
import io.diem.agent.engine.SamplingParams;
import io.diem.agent.engine.Sequence;
import io.diem.agent.model.Model;
import io.diem.agent.model.ModelLoader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code diem-agent run}: one generation on this machine, streamed to the terminal. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Run a model once on this machine and stream the text (a setup check for providers).")
final class RunCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, description = "Model directory (Hugging Face layout).")
    Path model;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--prompt", description = "Prompt text (BOS added when the model uses one).")
        String prompt;

        @Option(names = "--token-ids", description = "Prompt token ids, comma-separated, used exactly as given.")
        String tokenIds;
    }

    @Option(names = "--max-tokens", defaultValue = "64", description = "Most tokens to generate. Default: ${DEFAULT-VALUE}.")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0.7", description = "0 is greedy. Default: ${DEFAULT-VALUE}.")
    float temperature;

    @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus mass (0, 1]. Default: ${DEFAULT-VALUE}.")
    float topP;

    @Option(names = "--top-k", defaultValue = "0", description = "Keep the k most likely tokens; 0 = all. Default: ${DEFAULT-VALUE}.")
    int topK;

    @Option(names = "--seed", description = "Random seed (default: random).")
    Long seed;

    @Option(names = "--stop", description = "Stop sequence (repeatable).")
    List<String> stop = new ArrayList<>();

    @Mixin
    EngineOptions engineOptions;

    @Option(names = "--json", description = "Print one JSON object instead of streaming text.")
    boolean json;

    @Option(names = "--dump-logits", description = "Also write the logits after the prompt (one JSON array of floats) to FILE.")
    Path dumpLogits;

    @Override
    public Integer call() throws Exception {
        PrintStream err = System.err;
        long loadStart = System.nanoTime();
        Model m = new ModelLoader(err).load(model);
        long loadNanos = System.nanoTime() - loadStart;
        List<Integer> prompt = input.prompt != null ? m.tokenizer().encode(input.prompt) : parseIds(input.tokenIds);
        if (prompt.isEmpty()) {
            throw new IllegalArgumentException("the prompt has no tokens");
        }
        long s = seed != null ? seed : new SecureRandom().nextLong();
        SamplingParams params = new SamplingParams(temperature, topP, topK, s, maxTokens, stop);
        int capacity = Math.min(m.config().contextLength, prompt.size() + maxTokens);
        if (prompt.size() >= m.config().contextLength) {
            throw new IllegalArgumentException("prompt of " + prompt.size() + " tokens does not fit the context of "
                    + m.config().contextLength);
        }
        var eos = new HashSet<>(m.tokenizer().eosIds());
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (InferenceEngine e = engineOptions.open(err::println);
                Sequence sequence = e.newSequence(m, capacity)) {
            if (dumpLogits != null) {
                try (Sequence probe = e.newSequence(m, capacity)) {
                    float[] logits = probe.step(prompt.stream().mapToInt(Integer::intValue).toArray());
                    JsonArray a = new JsonArray();
                    for (float f : logits) {
                        a.add(f);
                    }
                    java.nio.file.Files.writeString(dumpLogits, a.toString());
                }
            }
            GenerationResult r = Generator.generate(sequence, m.tokenizer(),
                    new GenerationRequest(prompt, params, 0, 0, eos),
                    json ? (text, ids) -> {} : (text, ids) -> out.print(text), new Cancellation());
            if (json) {
                out.println(toJson(m, e, prompt, r, loadNanos, s));
            } else {
                out.println();
                err.printf("[%s, %s engine] %d prompt + %d completion tokens, finish %s; prefill %.0f ms, decode %.1f tok/s; "
                                + "metered %.3f %s-seconds%n", m.name(), e.name(), r.promptTokens(),
                        r.completionTokens().size(), r.finishReason().name().toLowerCase(), r.prefillNanos() / 1e6,
                        r.decodeTokensPerSecond(), r.computeNanos() / 1e9, e.name().equals("cuda") ? "GPU" : "CPU");
            }
        }
        return 0;
    }

    private static String toJson(Model m, InferenceEngine e, List<Integer> prompt, GenerationResult r, long loadNanos, long seed) {
        JsonObject o = new JsonObject();
        o.addProperty("model", m.name());
        o.addProperty("engine", e.name());
        o.addProperty("seed", seed);
        o.add("prompt_token_ids", ids(prompt));
        o.add("generated_token_ids", ids(r.completionTokens()));
        o.addProperty("text", r.text());
        o.addProperty("finish_reason", r.finishReason().name().toLowerCase());
        JsonObject t = new JsonObject();
        t.addProperty("load_ms", loadNanos / 1e6);
        t.addProperty("prefill_ms", r.prefillNanos() / 1e6);
        t.addProperty("decode_ms", r.decodeNanos() / 1e6);
        t.addProperty("first_token_ms", r.firstTokenNanos() / 1e6);
        t.addProperty("decode_tokens_per_second", r.decodeTokensPerSecond());
        o.add("timings", t);
        JsonObject metered = new JsonObject();
        metered.addProperty("kind", e.name().equals("cuda") ? "gpu" : "cpu");
        metered.addProperty("seconds", r.computeNanos() / 1e9);
        o.add("metered", metered);
        return new GsonBuilder().disableHtmlEscaping().create().toJson(o);
    }

    private static JsonArray ids(List<Integer> ids) {
        JsonArray a = new JsonArray();
        ids.forEach(a::add);
        return a;
    }

    static List<Integer> parseIds(String text) {
        List<Integer> ids = new ArrayList<>();
        for (String part : text.split("[,\\s]+")) {
            if (!part.isEmpty()) {
                ids.add(parseId(part));
            }
        }
        return ids;
    }

    static int parseId(String part) {
        try {
            int id = Integer.parseInt(part.trim());
            if (id < 0) {
                throw new IllegalArgumentException("token ids are >= 0, got " + id);
            }
            return id;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + part + "' is not a token id");
        }
    }
}
