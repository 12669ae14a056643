package io.diem.agent.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Learns byte-level BPE merges from a corpus: split it with the pre-tokenizer regex, count words,
 * then repeatedly merge the most frequent adjacent pair (ties broken by the pair's text, so the
 * result is deterministic). Small and slow by design: it makes test tokenizers.
 */
public final class BpeTrainer {

    /** The learned merges in rank order, each {@code [left, right]}, and the resulting vocabulary order. */
    public record Result(List<String[]> merges, List<String> tokens) {}

    private BpeTrainer() {}

    public static Result train(String corpus, String splitRegex, int maxMerges) {
        Map<String, Integer> wordCounts = new HashMap<>();
        Matcher m = Pattern.compile(splitRegex, Pattern.UNICODE_CHARACTER_CLASS).matcher(corpus);
        while (m.find()) {
            wordCounts.merge(ByteLevel.encode(m.group().getBytes(StandardCharsets.UTF_8)), 1, Integer::sum);
        }
        List<List<String>> words = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        wordCounts.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
            List<String> symbols = new ArrayList<>();
            for (char c : e.getKey().toCharArray()) {
                symbols.add(String.valueOf(c));
            }
            words.add(symbols);
            counts.add(e.getValue());
        });
        List<String> tokens = new ArrayList<>();
        for (int b = 0; b < 256; b++) {
            tokens.add(String.valueOf(ByteLevel.encode(b)));
        }
        List<String[]> merges = new ArrayList<>();
        for (int round = 0; round < maxMerges; round++) {
            Map<String, Integer> pairs = new LinkedHashMap<>();
            for (int w = 0; w < words.size(); w++) {
                List<String> s = words.get(w);
                for (int i = 0; i + 1 < s.size(); i++) {
                    pairs.merge(s.get(i) + '\u0000' + s.get(i + 1), counts.get(w), Integer::sum);
                }
            }
            String best = null;
            int bestCount = 1; // a pair seen once teaches nothing
            for (Map.Entry<String, Integer> e : pairs.entrySet()) {
                if (e.getValue() > bestCount || (e.getValue() == bestCount && best != null && e.getKey().compareTo(best) < 0)) {
                    best = e.getKey();
                    bestCount = e.getValue();
                }
            }
            if (best == null) {
                break;
            }
            String left = best.substring(0, best.indexOf('\u0000'));
            String right = best.substring(best.indexOf('\u0000') + 1);
            String merged = left + right;
            merges.add(new String[] {left, right});
            tokens.add(merged);
            for (List<String> s : words) {
                for (int i = 0; i + 1 < s.size(); i++) {
                    if (s.get(i).equals(left) && s.get(i + 1).equals(right)) {
                        s.set(i, merged);
                        s.remove(i + 1);
                    }
                }
            }
        }
        return new Result(merges, tokens);
    }
}
