package io.diem.agent.tokenizer;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * SentencePiece-style BPE as Hugging Face {@code tokenizer.json} describes it for Llama 2, Mistral
 * and TinyLlama: spaces become {@code ▁} and a {@code ▁} is prepended (by a {@code Replace} +
 * {@code Prepend} normalizer, or a {@code Metaspace} pre-tokenizer), merges run over Unicode
 * characters, and a character outside the vocabulary falls back to its UTF-8 bytes
 * ({@code <0xE6>}…) when {@code byte_fallback} is set, else to the unknown token. Decoding turns
 * {@code ▁} back into spaces, byte tokens into bytes, and drops the one space the encoder prepended.
 *
 * <p>Merging keeps candidate pairs in a priority queue (lowest rank, then leftmost), so a long
 * unsplit text costs O(n log n), not O(n²).
 */
final class SentencePieceBpe {

    static final char SPACE = '\u2581';

    private final Map<String, Integer> vocab;
    private final Map<String, Integer> mergeRanks;
    /** Byte b's fallback token id, or -1; null without byte fallback. */
    private final int[] byteIds;
    private final int unkId;
    /** {@code ▁} to prepend to a segment ("" for none), and whether only to the segment that starts the text. */
    private final String prepend;
    private final boolean prependFirstOnly;
    /** Metaspace's rule: no prefix on a segment that already starts with {@code ▁} (the Prepend normalizer always adds it). */
    private final boolean prependUnlessSpace;
    /** Split a segment into words before each {@code ▁} (Metaspace {@code split}). */
    private final boolean splitWords;
    /** Unicode normalization before the space replacement, or null. */
    private final java.text.Normalizer.Form form;
    /** Characters the decoder strips from the start of the text (the prepended space). */
    private final int stripLeading;

    private SentencePieceBpe(Map<String, Integer> vocab, Map<String, Integer> mergeRanks, boolean byteFallback, int unkId,
            String prepend, boolean prependFirstOnly, boolean prependUnlessSpace, boolean splitWords, java.text.Normalizer.Form form,
            int stripLeading) {
        this.prependUnlessSpace = prependUnlessSpace;
        this.vocab = vocab;
        this.mergeRanks = mergeRanks;
        this.unkId = unkId;
        this.prepend = prepend;
        this.prependFirstOnly = prependFirstOnly;
        this.splitWords = splitWords;
        this.form = form;
        this.stripLeading = stripLeading;
        if (byteFallback) {
            byteIds = new int[256];
            for (int b = 0; b < 256; b++) {
                Integer id = vocab.get(String.format("<0x%02X>", b));
                byteIds[b] = id == null ? -1 : id;
            }
        } else {
            byteIds = null;
        }
    }

    /** Whether a tokenizer.json is SentencePiece-style (not byte-level): byte fallback, Metaspace, or a ▁ normalizer. */
    static boolean describes(JsonObject json) {
        JsonObject model = json.getAsJsonObject("model");
        if (model.has("byte_fallback") && model.get("byte_fallback").getAsBoolean()) {
            return true;
        }
        return types(json.get("pre_tokenizer")).contains("Metaspace") || types(json.get("decoder")).contains("Metaspace")
                || types(json.get("normalizer")).contains("Prepend");
    }

    /** The component types of a (possibly Sequence) normalizer, pre-tokenizer or decoder. */
    private static List<String> types(JsonElement e) {
        List<String> out = new ArrayList<>();
        for (JsonObject o : parts(e)) {
            out.add(o.has("type") ? o.get("type").getAsString() : "");
        }
        return out;
    }

    private static List<JsonObject> parts(JsonElement e) {
        List<JsonObject> out = new ArrayList<>();
        if (e == null || !e.isJsonObject()) {
            return out;
        }
        JsonObject o = e.getAsJsonObject();
        String type = o.has("type") ? o.get("type").getAsString() : "";
        String list = switch (type) {
            case "Sequence" -> o.has("normalizers") ? "normalizers" : o.has("pretokenizers") ? "pretokenizers" : "decoders";
            default -> null;
        };
        if (list == null) {
            out.add(o);
        } else {
            for (JsonElement p : o.getAsJsonArray(list)) {
                out.addAll(parts(p));
            }
        }
        return out;
    }

    static SentencePieceBpe fromJson(JsonObject json, Map<String, Integer> vocab, Map<String, Integer> mergeRanks, String file)
            throws TokenizerLoadException {
        JsonObject model = json.getAsJsonObject("model");
        boolean byteFallback = model.has("byte_fallback") && model.get("byte_fallback").getAsBoolean();
        Integer unk = model.has("unk_token") && !model.get("unk_token").isJsonNull() ? vocab.get(model.get("unk_token").getAsString())
                : null;
        String prepend = "";
        boolean firstOnly = false;
        boolean unlessSpace = false;
        boolean replaceSpaces = false;
        boolean split = false;
        java.text.Normalizer.Form form = null;
        for (JsonObject n : parts(json.get("normalizer"))) {
            String type = n.get("type").getAsString();
            switch (type) {
                case "Prepend" -> prepend = n.get("prepend").getAsString();
                case "Replace" -> {
                    JsonObject pattern = n.getAsJsonObject("pattern");
                    if (!pattern.has("String") || !" ".equals(pattern.get("String").getAsString())
                            || !String.valueOf(SPACE).equals(n.get("content").getAsString())) {
                        throw new TokenizerLoadException(file + ": normalizer Replace " + n + " is not supported (only ' ' → '▁')");
                    }
                    replaceSpaces = true;
                }
                case "NFC" -> form = java.text.Normalizer.Form.NFC;
                case "NFKC" -> form = java.text.Normalizer.Form.NFKC;
                case "NFD" -> form = java.text.Normalizer.Form.NFD;
                case "NFKD" -> form = java.text.Normalizer.Form.NFKD;
                default -> throw new TokenizerLoadException(file + ": normalizer " + type
                        + " is not supported in a SentencePiece-style tokenizer (Prepend, Replace, NFC, NFKC, NFD, NFKD)");
            }
        }
        for (JsonObject p : parts(json.get("pre_tokenizer"))) {
            String type = p.get("type").getAsString();
            if (!"Metaspace".equals(type)) {
                throw new TokenizerLoadException(file + ": pre-tokenizer " + type
                        + " is not supported in a SentencePiece-style tokenizer (only Metaspace)");
            }
            replaceSpaces = true;
            String scheme = p.has("prepend_scheme") ? p.get("prepend_scheme").getAsString()
                    : p.has("add_prefix_space") && !p.get("add_prefix_space").getAsBoolean() ? "never" : "always";
            if (!"never".equals(scheme)) {
                prepend = String.valueOf(SPACE);
                firstOnly = "first".equals(scheme);
                unlessSpace = true;
            }
            split = !p.has("split") || p.get("split").getAsBoolean();
        }
        if (!replaceSpaces) {
            throw new TokenizerLoadException(file + ": a SentencePiece-style tokenizer needs spaces replaced by '▁' "
                    + "(a Replace normalizer or a Metaspace pre-tokenizer)");
        }
        int strip = 0;
        for (JsonObject d : parts(json.get("decoder"))) {
            String type = d.get("type").getAsString();
            switch (type) {
                case "Strip" -> strip = d.has("start") ? d.get("start").getAsInt() : 0;
                case "Metaspace" -> {
                    String scheme = d.has("prepend_scheme") ? d.get("prepend_scheme").getAsString()
                            : d.has("add_prefix_space") && !d.get("add_prefix_space").getAsBoolean() ? "never" : "always";
                    strip = "never".equals(scheme) ? 0 : 1;
                }
                case "Replace", "ByteFallback", "Fuse" -> { /* what tokenBytes does */ }
                default -> throw new TokenizerLoadException(file + ": decoder " + type
                        + " is not supported in a SentencePiece-style tokenizer (Replace, ByteFallback, Fuse, Strip, Metaspace)");
            }
        }
        return new SentencePieceBpe(vocab, mergeRanks, byteFallback, unk == null ? -1 : unk, prepend, firstOnly, unlessSpace, split, form,
                strip);
    }

    /**
     * Encodes one segment of ordinary text (between added tokens).
     *
     * @param startsText whether the segment starts the whole input (for Metaspace's {@code prepend_scheme: first})
     */
    void encode(String segment, boolean startsText, List<Integer> out) {
        if (segment.isEmpty()) {
            return;
        }
        String text = form == null ? segment : java.text.Normalizer.normalize(segment, form);
        text = text.replace(' ', SPACE);
        if (!prepend.isEmpty() && (!prependFirstOnly || startsText) && !(prependUnlessSpace && text.charAt(0) == SPACE)) {
            text = prepend + text;
        }
        if (!splitWords) {
            merge(text, out);
            return;
        }
        int start = 0;
        for (int i = 1; i < text.length(); i++) {
            if (text.charAt(i) == SPACE) {
                merge(text.substring(start, i), out);
                start = i;
            }
        }
        merge(text.substring(start), out);
    }

    /** BPE over the characters of {@code word}: lowest-rank pair first, leftmost among equals. */
    private void merge(String word, List<Integer> out) {
        int[] cps = word.codePoints().toArray();
        int n = cps.length;
        String[] symbol = new String[n];
        int[] next = new int[n];
        int[] prev = new int[n];
        for (int i = 0; i < n; i++) {
            symbol[i] = new String(cps, i, 1);
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
        }
        PriorityQueue<long[]> queue = new PriorityQueue<>((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
        for (int i = 0; i + 1 < n; i++) {
            offer(queue, symbol, i, i + 1);
        }
        while (!queue.isEmpty()) {
            long[] top = queue.poll();
            int left = (int) top[1];
            int right = symbol[left] == null ? -1 : next[left];
            if (right < 0 || symbol[right] == null) {
                continue;
            }
            Integer rank = mergeRanks.get(symbol[left] + '\u0000' + symbol[right]);
            if (rank == null || rank != top[0]) {
                continue; // stale: one side merged since this pair was queued
            }
            symbol[left] = symbol[left] + symbol[right];
            symbol[right] = null;
            next[left] = next[right];
            if (next[left] >= 0) {
                prev[next[left]] = left;
                offer(queue, symbol, left, next[left]);
            }
            if (prev[left] >= 0) {
                offer(queue, symbol, prev[left], left);
            }
        }
        for (int i = 0; i >= 0 && i < n; i = next[i]) {
            emit(symbol[i], out);
        }
    }

    private void offer(PriorityQueue<long[]> queue, String[] symbol, int left, int right) {
        Integer rank = mergeRanks.get(symbol[left] + '\u0000' + symbol[right]);
        if (rank != null && vocab.containsKey(symbol[left] + symbol[right])) {
            queue.add(new long[] {rank, left});
        }
    }

    private void emit(String symbol, List<Integer> out) {
        Integer id = vocab.get(symbol);
        if (id != null) {
            out.add(id);
            return;
        }
        if (byteIds != null) {
            for (byte b : symbol.getBytes(StandardCharsets.UTF_8)) {
                int byteId = byteIds[b & 0xFF];
                if (byteId >= 0) {
                    out.add(byteId);
                } else if (unkId >= 0) {
                    out.add(unkId);
                }
            }
        } else if (unkId >= 0) {
            if (out.isEmpty() || out.get(out.size() - 1) != unkId) { // fuse_unk: one unknown token per run
                out.add(unkId);
            }
        }
    }

    /** The bytes a piece stands for: a byte token's byte, else its text with ▁ as a space. */
    static byte[] pieceBytes(String piece) {
        if (piece.length() == 6 && piece.startsWith("<0x") && piece.endsWith(">")) {
            try {
                return new byte[] {(byte) Integer.parseInt(piece.substring(3, 5), 16)};
            } catch (NumberFormatException e) {
                // not a byte token after all
            }
        }
        return piece.replace(SPACE, ' ').getBytes(StandardCharsets.UTF_8);
    }

    /** Decoded text with the encoder's prepended space removed from its start. */
    String stripPrepended(ByteArrayOutputStream bytes) {
        String s = bytes.toString(StandardCharsets.UTF_8);
        int n = 0;
        while (n < stripLeading && n < s.length() && s.charAt(n) == ' ') {
            n++;
        }
        return s.substring(n);
    }
}
