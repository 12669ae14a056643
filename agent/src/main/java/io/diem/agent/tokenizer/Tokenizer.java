package io.diem.agent.tokenizer;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * BPE as Hugging Face {@code tokenizer.json} describes it: byte-level (GPT-2, Llama 3, Qwen2, Mistral
 * Nemo) or SentencePiece-style with byte fallback (Llama 2, Mistral 7B, TinyLlama; {@link SentencePieceBpe}).
 *
 * <p>Encoding: split out added tokens by exact match; split the rest with the pre-tokenizer regex;
 * map each piece's UTF-8 bytes to the byte-level alphabet; merge adjacent symbols by lowest merge
 * rank until no ranked pair is left. Decoding maps each token back to bytes. Because every byte has
 * a token, {@code decode(encode(s)).equals(s)} for every well-formed string.
 */
public final class Tokenizer {

    /** GPT-2's split pattern, used by a ByteLevel pre-tokenizer with {@code use_regex}. */
    static final String GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    private final Map<String, Integer> vocab;
    private final String[] idToToken;
    private final Map<String, Integer> mergeRanks;
    private final boolean ignoreMerges;
    private final Pattern split;
    /** added token content → id, longest content first. */
    private final LinkedHashMap<String, Integer> addedTokens;
    private final Set<Integer> specialIds;
    private final Pattern addedTokenPattern;
    private final int bosId;
    private final boolean addBos;
    private final List<Integer> eosIds;
    private final ChatTemplate chatTemplate;
    /** Unicode normalization the tokenizer.json asks for (Qwen2: NFC), or null. */
    private final java.text.Normalizer.Form normalization;
    private final Map<String, int[]> cache = new HashMap<>();
    private volatile ChatBound chatBound;
    /** The SentencePiece-style model, or null for byte-level BPE. */
    private final SentencePieceBpe sentencePiece;

    private Tokenizer(Map<String, Integer> vocab, Map<String, Integer> mergeRanks, boolean ignoreMerges, Pattern split,
            Map<String, Integer> added, Set<Integer> specialIds, int bosId, boolean addBos, List<Integer> eosIds,
            ChatTemplate chatTemplate, java.text.Normalizer.Form normalization, SentencePieceBpe sentencePiece) {
        this.normalization = normalization;
        this.sentencePiece = sentencePiece;
        this.vocab = vocab;
        int size = 0;
        for (int id : vocab.values()) {
            size = Math.max(size, id + 1);
        }
        for (int id : added.values()) {
            size = Math.max(size, id + 1);
        }
        this.idToToken = new String[size];
        vocab.forEach((token, id) -> idToToken[id] = token);
        added.forEach((token, id) -> idToToken[id] = token);
        this.mergeRanks = mergeRanks;
        this.ignoreMerges = ignoreMerges;
        this.split = split;
        this.addedTokens = new LinkedHashMap<>();
        added.entrySet().stream()
                .sorted(Comparator.comparingInt((Map.Entry<String, Integer> e) -> -e.getKey().length())
                        .thenComparing(Map.Entry::getKey))
                .forEach(e -> addedTokens.put(e.getKey(), e.getValue()));
        this.specialIds = Set.copyOf(specialIds);
        this.addedTokenPattern = added.isEmpty() ? null : Pattern.compile(String.join("|",
                addedTokens.keySet().stream().map(Pattern::quote).toList()));
        this.bosId = bosId;
        this.addBos = addBos;
        this.eosIds = List.copyOf(eosIds);
        this.chatTemplate = chatTemplate;
    }

    /** Loads {@code tokenizer.json} (and the optional config files) from a model directory. */
    public static Tokenizer load(Path modelDir, SpecialTokens config) throws TokenizerLoadException {
        Path file = modelDir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            throw new TokenizerLoadException(modelDir + ": missing tokenizer.json");
        }
        JsonObject tokenizerConfig = readOptional(modelDir.resolve("tokenizer_config.json"));
        Path templateFile = modelDir.resolve("chat_template.jinja"); // where newer checkpoints keep the template
        if (Files.isRegularFile(templateFile) && (tokenizerConfig == null || !tokenizerConfig.has("chat_template"))) {
            tokenizerConfig = tokenizerConfig == null ? new JsonObject() : tokenizerConfig.deepCopy();
            try {
                tokenizerConfig.addProperty("chat_template", Files.readString(templateFile, StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new TokenizerLoadException(templateFile + ": unreadable: " + e.getMessage(), e);
            }
        }
        JsonObject generationConfig = readOptional(modelDir.resolve("generation_config.json"));
        return fromJson(readObject(file), file.toString(), config, tokenizerConfig, generationConfig);
    }

    /** Loads a bare {@code tokenizer.json} (no model config): BOS/EOS from its post-processor only. */
    public static Tokenizer load(Path tokenizerJson) throws TokenizerLoadException {
        Path dir = tokenizerJson.toAbsolutePath().getParent();
        return fromJson(readObject(tokenizerJson), tokenizerJson.toString(), null,
                readOptional(dir.resolve("tokenizer_config.json")), null);
    }

    static Tokenizer fromJson(JsonObject json, String file, SpecialTokens config, JsonObject tokenizerConfig,
            JsonObject generationConfig) throws TokenizerLoadException {
        try {
            JsonObject model = json.getAsJsonObject("model");
            if (model == null || !"BPE".equals(string(model, "type"))) {
                throw new TokenizerLoadException(file + ": model type " + (model == null ? "missing" : string(model, "type"))
                        + " is not supported (only BPE: byte-level, or SentencePiece-style with byte fallback)");
            }
            Map<String, Integer> vocab = new HashMap<>();
            for (Map.Entry<String, JsonElement> e : model.getAsJsonObject("vocab").entrySet()) {
                vocab.put(e.getKey(), e.getValue().getAsInt());
            }
            Map<String, Integer> ranks = new HashMap<>();
            JsonArray merges = model.has("merges") ? model.getAsJsonArray("merges") : new JsonArray();
            for (int i = 0; i < merges.size(); i++) {
                JsonElement m = merges.get(i);
                String left;
                String right;
                if (m.isJsonArray()) {
                    left = m.getAsJsonArray().get(0).getAsString();
                    right = m.getAsJsonArray().get(1).getAsString();
                } else {
                    String s = m.getAsString();
                    int space = s.indexOf(' ', 1);
                    if (space < 0) {
                        throw new TokenizerLoadException(file + ": merge " + i + " \"" + s + "\" is not \"left right\"");
                    }
                    left = s.substring(0, space);
                    right = s.substring(space + 1);
                }
                ranks.putIfAbsent(pairKey(left, right), i);
            }
            boolean ignoreMerges = model.has("ignore_merges") && model.get("ignore_merges").getAsBoolean();
            SentencePieceBpe sentencePiece = SentencePieceBpe.describes(json) ? SentencePieceBpe.fromJson(json, vocab, ranks, file) : null;
            Pattern split = sentencePiece == null ? splitPattern(json.get("pre_tokenizer"), file) : null;

            Map<String, Integer> added = new HashMap<>();
            Set<Integer> special = new java.util.HashSet<>();
            if (json.has("added_tokens") && json.get("added_tokens").isJsonArray()) {
                for (JsonElement e : json.getAsJsonArray("added_tokens")) {
                    JsonObject t = e.getAsJsonObject();
                    int id = t.get("id").getAsInt();
                    added.put(t.get("content").getAsString(), id);
                    if (t.has("special") && t.get("special").getAsBoolean()) {
                        special.add(id);
                    }
                }
            }
            Map<String, Integer> all = new HashMap<>(vocab);
            all.putAll(added);

            // BOS: the config's id; added when tokenizer_config says so, else when the post-processor adds it.
            int bos = config != null && config.bosTokenId() >= 0 ? config.bosTokenId() : idOf(all, tokenizerConfig, "bos_token");
            Integer templateBos = postProcessorPrefix(json.get("post_processor"), all);
            if (bos < 0 && templateBos != null) {
                bos = templateBos;
            }
            boolean addBos = tokenizerConfig != null && tokenizerConfig.has("add_bos_token")
                    ? tokenizerConfig.get("add_bos_token").getAsBoolean() && bos >= 0
                    : templateBos != null && templateBos == bos;

            Set<Integer> eos = new LinkedHashSet<>();
            if (config != null) {
                eos.addAll(config.eosTokenIds());
            }
            if (generationConfig != null) {
                eos.addAll(SpecialTokens.idsOf(generationConfig.get("eos_token_id")));
            }
            int eosFromTokenizer = idOf(all, tokenizerConfig, "eos_token");
            if (eosFromTokenizer >= 0) {
                eos.add(eosFromTokenizer);
            }
            String template = chatTemplateSource(tokenizerConfig);
            String bosText = bos >= 0 ? tokenText(vocab, added, bos) : "";
            ChatTemplate chat = template != null
                    ? new JinjaChatTemplate(template, specialTokenTexts(tokenizerConfig), added.keySet())
                    : BuiltInChatLayout.detect(all.keySet()).withBos(addBos ? bosText : "");
            Tokenizer t = new Tokenizer(vocab, ranks, ignoreMerges, split, added, special, bos, addBos, List.copyOf(eos),
                    chat, sentencePiece == null ? normalization(json.get("normalizer"), file) : null, sentencePiece);
            if (template != null) {
                try {
                    t.encodeChat(List.of(new ChatTemplate.Message("user", "Hello")));
                } catch (IllegalArgumentException e) {
                    throw new TokenizerLoadException(file + ": the chat_template of tokenizer_config.json cannot be rendered ("
                            + e.getMessage() + ")", e);
                }
            }
            return t;
        } catch (TokenizerLoadException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new TokenizerLoadException(file + ": malformed tokenizer: " + e, e);
        }
    }

    /** The config's chat template: a string, or the one named "default" of a list of named templates; null if none. */
    private static String chatTemplateSource(JsonObject tokenizerConfig) {
        JsonElement t = tokenizerConfig == null ? null : tokenizerConfig.get("chat_template");
        if (t == null || t.isJsonNull()) {
            return null;
        }
        if (t.isJsonPrimitive()) {
            return t.getAsString();
        }
        if (t.isJsonArray()) {
            for (JsonElement e : t.getAsJsonArray()) {
                JsonObject named = e.getAsJsonObject();
                if ("default".equals(string(named, "name"))) {
                    return string(named, "template");
                }
            }
        }
        return null;
    }

    /** The special tokens a template may name ({@code bos_token}, {@code eos_token}, {@code unk_token}, {@code pad_token}) as text. */
    private static Map<String, String> specialTokenTexts(JsonObject tokenizerConfig) {
        Map<String, String> out = new HashMap<>();
        if (tokenizerConfig == null) {
            return out;
        }
        for (String key : List.of("bos_token", "eos_token", "unk_token", "pad_token")) {
            JsonElement e = tokenizerConfig.get(key);
            if (e == null || e.isJsonNull()) {
                continue;
            }
            out.put(key, e.isJsonObject() ? e.getAsJsonObject().get("content").getAsString() : e.getAsString());
        }
        return out;
    }

    private static String tokenText(Map<String, Integer> vocab, Map<String, Integer> added, int id) {
        for (Map.Entry<String, Integer> e : added.entrySet()) {
            if (e.getValue() == id) {
                return e.getKey();
            }
        }
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            if (e.getValue() == id) {
                return e.getKey();
            }
        }
        return "";
    }

    /** The pre-tokenizer's split regex: a Split's Regex pattern, or GPT-2's for a ByteLevel with use_regex. */
    private static Pattern splitPattern(JsonElement pre, String file) throws TokenizerLoadException {
        String regex = null;
        boolean byteLevel = false;
        List<JsonObject> parts = new ArrayList<>();
        if (pre != null && pre.isJsonObject()) {
            JsonObject p = pre.getAsJsonObject();
            if ("Sequence".equals(string(p, "type"))) {
                for (JsonElement e : p.getAsJsonArray("pretokenizers")) {
                    parts.add(e.getAsJsonObject());
                }
            } else {
                parts.add(p);
            }
        }
        for (JsonObject p : parts) {
            String type = string(p, "type");
            switch (type == null ? "" : type) {
                case "Split" -> {
                    JsonObject pattern = p.getAsJsonObject("pattern");
                    if (pattern.has("Regex")) {
                        regex = pattern.get("Regex").getAsString();
                    } else {
                        regex = Pattern.quote(pattern.get("String").getAsString());
                    }
                }
                case "ByteLevel" -> {
                    byteLevel = true;
                    boolean useRegex = !p.has("use_regex") || p.get("use_regex").getAsBoolean();
                    if (useRegex && regex == null) {
                        regex = GPT2_PATTERN;
                    }
                }
                case "Digits", "Punctuation" -> { /* subsumed by the split regexes of the supported models */ }
                default -> throw new TokenizerLoadException(file + ": pre-tokenizer " + type
                        + " is not supported (only byte-level BPE: Split + ByteLevel)");
            }
        }
        if (!byteLevel) {
            throw new TokenizerLoadException(file + ": no ByteLevel pre-tokenizer; only byte-level BPE tokenizers are supported");
        }
        try {
            return Pattern.compile(regex == null ? "(?s).+" : regex, Pattern.UNICODE_CHARACTER_CLASS);
        } catch (java.util.regex.PatternSyntaxException e) {
            throw new TokenizerLoadException(file + ": pre-tokenizer regex does not compile: " + e.getDescription(), e);
        }
    }

    /** NFC/NFKC/NFD/NFKD normalizers are applied; any other normalizer is refused (it would change the tokens). */
    private static java.text.Normalizer.Form normalization(JsonElement normalizer, String file) throws TokenizerLoadException {
        if (normalizer == null || normalizer.isJsonNull()) {
            return null;
        }
        String type = string(normalizer.getAsJsonObject(), "type");
        return switch (type == null ? "" : type) {
            case "NFC" -> java.text.Normalizer.Form.NFC;
            case "NFKC" -> java.text.Normalizer.Form.NFKC;
            case "NFD" -> java.text.Normalizer.Form.NFD;
            case "NFKD" -> java.text.Normalizer.Form.NFKD;
            default -> throw new TokenizerLoadException(file + ": normalizer " + type + " is not supported (NFC, NFKC, NFD, NFKD)");
        };
    }

    /** The first special token of a TemplateProcessing "single" template, when it precedes the sequence. */
    private static Integer postProcessorPrefix(JsonElement post, Map<String, Integer> all) {
        if (post == null || !post.isJsonObject()) {
            return null;
        }
        JsonObject p = post.getAsJsonObject();
        if ("Sequence".equals(string(p, "type"))) {
            for (JsonElement e : p.getAsJsonArray("processors")) {
                Integer id = postProcessorPrefix(e, all);
                if (id != null) {
                    return id;
                }
            }
            return null;
        }
        if (!"TemplateProcessing".equals(string(p, "type")) || !p.has("single")) {
            return null;
        }
        JsonArray single = p.getAsJsonArray("single");
        if (single.isEmpty() || !single.get(0).getAsJsonObject().has("SpecialToken")) {
            return null;
        }
        return all.get(single.get(0).getAsJsonObject().getAsJsonObject("SpecialToken").get("id").getAsString());
    }

    private static int idOf(Map<String, Integer> all, JsonObject tokenizerConfig, String key) {
        if (tokenizerConfig == null || !tokenizerConfig.has(key) || tokenizerConfig.get(key).isJsonNull()) {
            return -1;
        }
        JsonElement e = tokenizerConfig.get(key);
        String content = e.isJsonObject() ? e.getAsJsonObject().get("content").getAsString() : e.getAsString();
        Integer id = all.get(content);
        return id == null ? -1 : id;
    }

    private static JsonObject readObject(Path file) throws TokenizerLoadException {
        try {
            return JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (IOException | JsonParseException | IllegalStateException e) {
            throw new TokenizerLoadException(file + ": not a readable JSON object: " + e.getMessage(), e);
        }
    }

    private static JsonObject readOptional(Path file) throws TokenizerLoadException {
        return Files.isRegularFile(file) ? readObject(file) : null;
    }

    private static String string(JsonObject o, String key) {
        return o.has(key) && !o.get(key).isJsonNull() ? o.get(key).getAsString() : null;
    }

    private static String pairKey(String left, String right) {
        return left + '\u0000' + right;
    }

    // ---------------------------------------------------------------- encoding

    /** Token ids of {@code text}, with BOS first when the model uses one. */
    public List<Integer> encode(String text) {
        List<Integer> ids = new ArrayList<>();
        if (addBos) {
            ids.add(bosId);
        }
        encodeInto(text, ids, true);
        return ids;
    }

    /** Token ids of {@code text} exactly: no BOS; added tokens in the text are recognised when {@code allowSpecial}. */
    public List<Integer> encodeRaw(String text, boolean allowSpecial) {
        List<Integer> ids = new ArrayList<>();
        encodeInto(text, ids, allowSpecial);
        return ids;
    }

    private void encodeInto(String text, List<Integer> out, boolean allowSpecial) {
        encodeInto(text, out, allowSpecial, null);
    }

    /** Encodes {@code text}, added tokens recognised when {@code allowSpecial} except inside {@code prompt}'s literal ranges. */
    private void encodeInto(String text, List<Integer> out, boolean allowSpecial, ChatPrompt prompt) {
        if (!allowSpecial || addedTokenPattern == null) {
            encodeOrdinary(text, true, out);
            return;
        }
        Matcher m = addedTokenPattern.matcher(text);
        int start = 0;
        while (m.find()) {
            if (prompt != null && prompt.overlapsLiteral(m.start(), m.end())) {
                continue; // typed by a user: text, not a control token
            }
            encodeOrdinary(text.substring(start, m.start()), start == 0, out);
            out.add(addedTokens.get(m.group()));
            start = m.end();
        }
        encodeOrdinary(text.substring(start), start == 0, out);
    }

    /** @param startsText whether {@code raw} begins the whole input (SentencePiece's first-segment prefix) */
    private void encodeOrdinary(String raw, boolean startsText, List<Integer> out) {
        if (raw.isEmpty()) {
            return;
        }
        if (sentencePiece != null) {
            sentencePiece.encode(raw, startsText, out);
            return;
        }
        String text = normalization == null ? raw : java.text.Normalizer.normalize(raw, normalization);
        Matcher m = split.matcher(text);
        int last = 0;
        while (m.find()) {
            if (m.start() > last) {
                encodePiece(text.substring(last, m.start()), out); // text the regex skipped is kept, never lost
            }
            if (m.end() > m.start()) {
                encodePiece(m.group(), out);
            }
            last = m.end();
        }
        if (last < text.length()) {
            encodePiece(text.substring(last), out);
        }
    }

    private void encodePiece(String piece, List<Integer> out) {
        int[] ids;
        synchronized (cache) {
            ids = cache.get(piece);
        }
        if (ids == null) {
            ids = bpe(ByteLevel.encode(piece.getBytes(StandardCharsets.UTF_8)));
            synchronized (cache) {
                if (cache.size() > 100_000) {
                    cache.clear();
                }
                cache.put(piece, ids);
            }
        }
        for (int id : ids) {
            out.add(id);
        }
    }

    /** Merges the symbols of one byte-level word, lowest rank first. */
    private int[] bpe(String word) {
        if (ignoreMerges) {
            Integer whole = vocab.get(word);
            if (whole != null) {
                return new int[] {whole};
            }
        }
        List<String> symbols = new ArrayList<>(word.length());
        for (int i = 0; i < word.length(); i++) {
            symbols.add(String.valueOf(word.charAt(i)));
        }
        while (symbols.size() > 1) {
            int bestRank = Integer.MAX_VALUE;
            int bestAt = -1;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                Integer rank = mergeRanks.get(pairKey(symbols.get(i), symbols.get(i + 1)));
                if (rank != null && rank < bestRank) {
                    bestRank = rank;
                    bestAt = i;
                }
            }
            if (bestAt < 0) {
                break;
            }
            symbols.set(bestAt, symbols.get(bestAt) + symbols.get(bestAt + 1));
            symbols.remove(bestAt + 1);
        }
        int[] ids = new int[symbols.size()];
        for (int i = 0; i < ids.length; i++) {
            Integer id = vocab.get(symbols.get(i));
            if (id == null) {
                throw new IllegalStateException("byte-level symbol '" + symbols.get(i) + "' is not in the vocabulary");
            }
            ids[i] = id;
        }
        return ids;
    }

    // ---------------------------------------------------------------- decoding

    /**
     * The bytes a token stands for (an added token's content in UTF-8). Models often pad their
     * embedding past the tokenizer's vocabulary (Qwen2, random test models); such ids, and ids with no
     * token, stand for no text.
     */
    public byte[] tokenBytes(int id) {
        if (id < 0) {
            throw new IllegalArgumentException("token id " + id + " is negative");
        }
        if (id >= idToToken.length || idToToken[id] == null) {
            return new byte[0];
        }
        String token = idToToken[id];
        if (addedTokens.containsKey(token) && !vocab.containsKey(token)) {
            return token.getBytes(StandardCharsets.UTF_8);
        }
        if (sentencePiece != null) {
            return SentencePieceBpe.pieceBytes(token);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(token.length());
        for (int i = 0; i < token.length(); i++) {
            int b = ByteLevel.decode(token.charAt(i));
            if (b < 0) {
                byte[] raw = String.valueOf(token.charAt(i)).getBytes(StandardCharsets.UTF_8);
                out.write(raw, 0, raw.length);
            } else {
                out.write(b);
            }
        }
        return out.toByteArray();
    }

    /** Text of the ids; invalid UTF-8 becomes U+FFFD. */
    public String decode(List<Integer> ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int id : ids) {
            byte[] b = tokenBytes(id);
            out.write(b, 0, b.length);
        }
        return sentencePiece == null ? out.toString(StandardCharsets.UTF_8) : sentencePiece.stripPrepended(out);
    }

    /** Whether {@code id} is a valid token id. */
    public boolean contains(int id) {
        return id >= 0 && id < idToToken.length && idToToken[id] != null;
    }

    public boolean isSpecial(int id) {
        return specialIds.contains(id);
    }

    public int vocabularySize() {
        return idToToken.length;
    }

    public int bosId() {
        return bosId;
    }

    public boolean addsBos() {
        return addBos;
    }

    public List<Integer> eosIds() {
        return eosIds;
    }

    public ChatTemplate chatTemplate() {
        return chatTemplate;
    }

    /** How many tokens chat prompts of this model take at most, measured once on its template. */
    public ChatBound chatBound() {
        ChatBound b = chatBound;
        if (b == null) {
            b = ChatBound.measure(this::encodeChat);
            chatBound = b;
        }
        return b;
    }

    /**
     * Chat messages rendered with the model's template and tokenized as Hugging Face does (the
     * template's text with special tokens recognised, no BOS added beyond what the template writes),
     * except that special-token text inside user and system messages stays text.
     *
     * @throws IllegalArgumentException when the template refuses the messages
     */
    public List<Integer> encodeChat(List<ChatTemplate.Message> messages) {
        ChatPrompt prompt = chatTemplate.render(messages);
        List<Integer> ids = new ArrayList<>();
        encodeInto(prompt.text(), ids, true, prompt);
        return ids;
    }
}
