package io.diem.agent.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import io.diem.agent.model.TestModelMaker.Options;
import io.diem.agent.model.TestModelMaker.Preset;
import io.diem.agent.model.TestModelMaker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TokenizerTest {

    @TempDir
    static Path dir;
    static Tokenizer tokenizer;

    @BeforeAll
    static void makeModel() throws Exception {
        TestModelMaker.make(dir.resolve("tiny"), Options.of(Preset.TINY, 1));
        tokenizer = Tokenizer.load(dir.resolve("tiny/tokenizer.json"));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "The node agent runs models.",
        "  leading and trailing spaces  ",
        "tabs\tand\nnew\r\nlines\n\n\n",
        "emoji 🙂👍🏽 and a family 👨‍👩‍👧 in one line",
        "CJK 東京は日本の首都です。中文测试",
        "Café naïve résumé ÅÄÖ ß Ωμέγα",
        "numbers 1234567 3.14159 -42 1,000,000",
        "code: def f(x):\n    return {'a': [1, 2]}  # comment",
        "<|begin_of_text|> inside text, <|eot_id|> too",
        "x",
        "'s 're 've 'll 'd 'm 't CAPITAL'S",
        "\u0000\u0001\u001f control \u007f",
    })
    void decodeOfEncodeIsTheIdentity(String text) {
        List<Integer> ids = tokenizer.encodeRaw(text, true);
        assertThat(tokenizer.decode(ids)).isEqualTo(text);
        assertThat(streamed(ids)).isEqualTo(text);
    }

    @Test
    void learnedMergesMakeCommonWordsSingleTokens() {
        List<Integer> ids = tokenizer.encodeRaw(" the", false);
        assertThat(ids).hasSize(1);
        assertThat(tokenizer.encodeRaw("the node agent", false).size()).isLessThan("the node agent".length() / 2);
    }

    @Test
    void specialTokensAreRecognisedAndBosIsAdded() {
        List<Integer> ids = tokenizer.encode("<|eot_id|>hi");
        assertThat(ids.get(0)).isEqualTo(tokenizer.bosId());
        assertThat(tokenizer.addsBos()).isTrue();
        int eot = ids.get(1);
        assertThat(tokenizer.isSpecial(eot)).isTrue();
        assertThat(tokenizer.decode(List.of(eot))).isEqualTo("<|eot_id|>");
        assertThat(tokenizer.encodeRaw("<|eot_id|>", false)).hasSizeGreaterThan(1);
    }

    @Test
    void invalidUtf8FromTokensBecomesReplacementCharacters() {
        // Byte tokens for 0xE6 0x9D (first two bytes of 東) then 'a': an unfinished character.
        int e6 = idOfByte(0xE6), x9d = idOfByte(0x9D), a = idOfByte('a');
        assertThat(tokenizer.decode(List.of(e6, x9d, a))).isEqualTo("\uFFFDa");
        StreamingDecoder d = new StreamingDecoder(tokenizer);
        assertThat(d.push(e6)).isEmpty();
        assertThat(d.push(x9d)).isEmpty();
        assertThat(d.push(a)).isEqualTo("\uFFFDa");
        // a lone continuation byte is emitted at once as U+FFFD
        assertThat(d.push(x9d)).isEqualTo("\uFFFD");
        assertThat(d.push(e6)).isEmpty();
        assertThat(d.flush()).isEqualTo("\uFFFD");
    }

    @Test
    void idsPastTheTokenizersVocabularyStandForNoText() {
        // models pad their embedding past the tokenizer (here: the tokenizer's size and beyond)
        int padded = tokenizer.vocabularySize() + 5;
        assertThat(tokenizer.tokenBytes(padded)).isEmpty();
        assertThat(tokenizer.decode(List.of(tokenizer.encodeRaw("a", false).get(0), padded))).isEqualTo("a");
        assertThat(new StreamingDecoder(tokenizer).push(padded)).isEmpty();
    }

    @Test
    void streamingNeverEmitsHalfACharacter() {
        String text = "東京🙂é";
        List<Integer> ids = new ArrayList<>();
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            ids.add(idOfByte(b & 0xff));
        }
        StreamingDecoder d = new StreamingDecoder(tokenizer);
        List<String> pieces = new ArrayList<>();
        for (int id : ids) {
            String piece = d.push(id);
            if (!piece.isEmpty()) {
                pieces.add(piece);
            }
        }
        assertThat(pieces).containsExactly("東", "京", "🙂", "é");
        assertThat(d.flush()).isEmpty();
    }

    @Test
    void mergesInStringFormEncodeLikeThePairForm() throws Exception {
        Path json = dir.resolve("tiny/tokenizer.json");
        String text = Files.readString(json);
        // Rewrite every ["a","b"] merge as "a b" (no tokens contain spaces in byte-level BPE).
        com.google.gson.JsonObject o = com.google.gson.JsonParser.parseString(text).getAsJsonObject();
        com.google.gson.JsonArray merges = o.getAsJsonObject("model").getAsJsonArray("merges");
        com.google.gson.JsonArray strings = new com.google.gson.JsonArray();
        merges.forEach(m -> strings.add(m.getAsJsonArray().get(0).getAsString() + " " + m.getAsJsonArray().get(1).getAsString()));
        o.getAsJsonObject("model").add("merges", strings);
        o.getAsJsonObject("model").addProperty("ignore_merges", false);
        Path other = Files.createDirectories(dir.resolve("string-merges")).resolve("tokenizer.json");
        Files.writeString(other, o.toString());
        Tokenizer t2 = Tokenizer.load(other);
        String sample = "The tokenizer learns its merges from this text, 2026!";
        assertThat(t2.encodeRaw(sample, true)).isEqualTo(tokenizer.encodeRaw(sample, true));
    }

    @Test
    void anNfcNormalizerMakesDecomposedTextEncodeLikeComposedText() throws Exception {
        com.google.gson.JsonObject o = com.google.gson.JsonParser.parseString(Files.readString(dir.resolve("tiny/tokenizer.json")))
                .getAsJsonObject();
        com.google.gson.JsonObject nfc = new com.google.gson.JsonObject();
        nfc.addProperty("type", "NFC");
        o.add("normalizer", nfc);
        Path other = Files.createDirectories(dir.resolve("nfc")).resolve("tokenizer.json");
        Files.writeString(other, o.toString());
        Tokenizer t = Tokenizer.load(other);
        String composed = "Caf\u00e9";
        String decomposed = "Cafe\u0301";
        assertThat(t.encodeRaw(decomposed, false)).isEqualTo(t.encodeRaw(composed, false));
        assertThat(tokenizer.encodeRaw(decomposed, false)).isNotEqualTo(tokenizer.encodeRaw(composed, false));
    }

    @Test
    void chatRendersTheJinjaTemplateOfTheTokenizerConfig() {
        assertThat(tokenizer.chatTemplate().kind()).isEqualTo("jinja");
        List<Integer> ids = tokenizer.encodeChat(List.of(new ChatTemplate.Message("user", " Hi there ")));
        String text = tokenizer.decode(ids);
        assertThat(text).isEqualTo("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n");
        assertThat(ids.get(0)).isEqualTo(tokenizer.bosId());
        assertThat(BuiltInChatLayout.PLAIN.render(List.of(new ChatTemplate.Message("system", "Be brief."),
                new ChatTemplate.Message("user", "Hi")), "").text()).isEqualTo("System: Be brief.\n\nUser: Hi\n\nAssistant:");
    }

    @Test
    void specialTokenTextTypedByAUserStaysText() {
        String eot = "<|eot_id|>";
        int eotId = tokenizer.encodeRaw(eot, true).get(0);
        List<Integer> ids = tokenizer.encodeChat(List.of(new ChatTemplate.Message("user", "a" + eot + "<|start_header_id|>b")));
        // The template's own two eot markers (after the user turn) are control tokens; the typed one is not.
        assertThat(ids.stream().filter(id -> id == eotId).count()).isEqualTo(1);
        assertThat(tokenizer.decode(ids)).contains("a" + eot + "<|start_header_id|>b<|eot_id|>");
        List<Integer> typed = tokenizer.encodeRaw(eot, false);
        assertThat(typed).hasSizeGreaterThan(1);
    }

    /** A template in the manner of Llama 3.1's: a dated system preamble on every chat. */
    private static final String DATED_TEMPLATE = "{{- bos_token }}{%- if messages[0]['role'] == 'system' %}"
            + "{%- set system = messages[0]['content'] | trim %}{%- set messages = messages[1:] %}{%- else %}{%- set system = '' %}"
            + "{%- endif %}{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}{{- 'Cutting Knowledge Date: December 2023\\n' }}"
            + "{{- 'Today Date: ' + strftime_now('%d %b %Y') + '\\n\\n' }}{{- system }}{{- '<|eot_id|>' }}"
            + "{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
            + " + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}"
            + "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";

    @Test
    void theChatBoundCoversEveryChatIncludingATemplatesOwnPreamble() throws Exception {
        Path dated = Files.createDirectories(dir.resolve("dated"));
        Files.copy(dir.resolve("tiny/tokenizer.json"), dated.resolve("tokenizer.json"));
        com.google.gson.JsonObject config = com.google.gson.JsonParser.parseString(
                Files.readString(dir.resolve("tiny/tokenizer_config.json"))).getAsJsonObject();
        config.addProperty("chat_template", DATED_TEMPLATE);
        Files.writeString(dated.resolve("tokenizer_config.json"), config.toString());
        Tokenizer t = Tokenizer.load(dated.resolve("tokenizer.json"));
        assertThat(t.decode(t.encodeChat(List.of(new ChatTemplate.Message("user", "Hi"))))).contains("Today Date: ");
        ChatBound plain = tokenizer.chatBound();
        ChatBound withPreamble = t.chatBound();
        assertThat(withPreamble.fixedTokens()).isGreaterThan(plain.fixedTokens() + 10);
        List<List<ChatTemplate.Message>> chats = List.of(
                List.of(new ChatTemplate.Message("user", "1")),
                List.of(new ChatTemplate.Message("user", "")),
                List.of(new ChatTemplate.Message("system", "Be brief."), new ChatTemplate.Message("user", "1 2 3 4 5 6 7 8 9")),
                List.of(new ChatTemplate.Message("user", "東京 🙂"), new ChatTemplate.Message("assistant", "ok"),
                        new ChatTemplate.Message("user", "<|eot_id|><|eot_id|>")),
                List.of(new ChatTemplate.Message("user", "x".repeat(500))));
        for (Tokenizer tk : List.of(tokenizer, t)) {
            ChatBound b = tk.chatBound();
            for (List<ChatTemplate.Message> chat : chats) {
                long bytes = chat.stream().mapToLong(m -> m.content().getBytes(StandardCharsets.UTF_8).length).sum();
                assertThat((long) tk.encodeChat(chat).size()).as("%s under %s", chat, b)
                        .isLessThanOrEqualTo(b.fixedTokens() + (long) chat.size() * b.tokensPerMessage() + bytes);
            }
        }
    }

    @Test
    void messageTextIsNeverInterpretedAsJinja() {
        String text = tokenizer.decode(tokenizer.encodeChat(List.of(new ChatTemplate.Message("user", "{{ 7 * 7 }}{% if true %}x{% endif %}"))));
        assertThat(text).contains("{{ 7 * 7 }}{% if true %}x{% endif %}").doesNotContain("49");
    }

    private static String streamed(List<Integer> ids) {
        StreamingDecoder d = new StreamingDecoder(tokenizer);
        StringBuilder s = new StringBuilder();
        for (int id : ids) {
            s.append(d.push(id));
        }
        return s.append(d.flush()).toString();
    }

    private static int idOfByte(int b) {
        List<Integer> ids = tokenizer.encodeRaw(new String(new char[] {ByteLevel.encode(b)}), false);
        // the byte-level char encodes to bytes of its own UTF-8; instead look the byte token up by decoding
        for (int id = 0; id < 256; id++) {
            byte[] bytes = tokenizer.tokenBytes(id);
            if (bytes.length == 1 && (bytes[0] & 0xff) == b) {
                return id;
            }
        }
        throw new AssertionError("no byte token for " + b + " " + ids);
    }
}
