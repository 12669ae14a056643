package io.diem.agent.tokenizer;

import java.util.List;

/**
 * A chat rendered to prompt text, with the character ranges {@code [start, end)} that came from
 * message content and must be tokenized as plain text: special-token strings there (a user typing
 * {@code <|eot_id|>}) never become control tokens.
 */
public record ChatPrompt(String text, List<Literal> literals) {

    /** Characters {@code [start, end)} of {@link #text} to tokenize as text. */
    public record Literal(int start, int end) {}

    public ChatPrompt {
        literals = List.copyOf(literals);
    }

    /** Whether {@code [start, end)} overlaps a literal range. */
    boolean overlapsLiteral(int start, int end) {
        for (Literal l : literals) {
            if (start < l.end() && l.start() < end) {
                return true;
            }
        }
        return false;
    }
}
