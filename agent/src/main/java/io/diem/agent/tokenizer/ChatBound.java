package io.diem.agent.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * An upper bound on a chat prompt's tokens that a gateway can compute without the tokenizer: a chat
 * of {@code n} messages whose contents total {@code B} UTF-8 bytes takes at most
 * {@code fixedTokens + n * tokensPerMessage + B} tokens. Content costs at most a token per byte (every
 * BPE token covers at least one byte) plus one per message (a SentencePiece prefix); the template's
 * own text is measured by rendering probe chats of one-byte messages, with slack for text a template
 * varies, such as today's date.
 */
public record ChatBound(int fixedTokens, int tokensPerMessage) {

    /** Tokens allowed for template text that changes between renderings (a date, a weekday). */
    static final int VARYING_TEXT_SLACK = 8;

    /** Probes of 1, 2 and 3 messages in the shapes templates accept; those a template refuses are skipped. */
    private static final List<List<String>> PROBES = List.of(List.of("user"), List.of("system", "user"),
            List.of("user", "assistant", "user"), List.of("system", "user", "assistant", "user"));

    static ChatBound measure(Function<List<ChatTemplate.Message>, List<Integer>> encodeChat) {
        int single = -1;
        List<int[]> multi = new ArrayList<>(); // {messages, template tokens}
        for (List<String> roles : PROBES) {
            List<ChatTemplate.Message> chat = roles.stream().map(r -> new ChatTemplate.Message(r, "x")).toList();
            int templateTokens;
            try {
                templateTokens = encodeChat.apply(chat).size() - chat.size();
            } catch (IllegalArgumentException e) {
                continue;
            }
            if (roles.size() == 1) {
                single = templateTokens;
            } else {
                multi.add(new int[] {roles.size(), templateTokens});
            }
        }
        if (single < 0) {
            return new ChatBound(0, 0); // not measurable: the gateway falls back to its generic bound
        }
        int perMessage = 0;
        for (int[] m : multi) {
            perMessage = Math.max(perMessage, Math.max(0, -Math.floorDiv(-(m[1] - single), m[0] - 1)));
        }
        int fixed = Math.max(0, single - perMessage) + VARYING_TEXT_SLACK;
        for (int[] m : multi) { // a template whose first messages cost more than its later ones
            fixed = Math.max(fixed, m[1] - m[0] * perMessage + VARYING_TEXT_SLACK);
        }
        return new ChatBound(fixed, perMessage + 1);
    }
}
