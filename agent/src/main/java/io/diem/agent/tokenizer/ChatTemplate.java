package io.diem.agent.tokenizer;

import java.util.List;
import java.util.Set;

/**
 * Renders chat messages to prompt text. Jinja is not interpreted: the tokenizer config's template is
 * recognised by its markers as one of the two common shapes, and anything else gets the documented
 * plain default.
 *
 * <ul>
 *   <li>{@code LLAMA3}: {@code <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>…}
 *       then an open assistant header.</li>
 *   <li>{@code CHATML}: {@code <|im_start|>role\ncontent<|im_end|>\n…} then {@code <|im_start|>assistant\n}.</li>
 *   <li>{@code PLAIN} (default): BOS, then {@code "System: …\n\nUser: …\n\nAssistant: …\n\n"} per message,
 *       then {@code "Assistant:"}.</li>
 * </ul>
 */
public enum ChatTemplate {
    LLAMA3, CHATML, PLAIN;

    public record Message(String role, String content) {}

    static ChatTemplate detect(String template, Set<String> tokens) {
        if (template != null && template.contains("<|start_header_id|>") && tokens.contains("<|start_header_id|>")
                && tokens.contains("<|eot_id|>")) {
            return LLAMA3;
        }
        if (template != null && template.contains("<|im_start|>") && tokens.contains("<|im_start|>")
                && tokens.contains("<|im_end|>")) {
            return CHATML;
        }
        return PLAIN;
    }

    /** @param bos the BOS token text to open with, or empty */
    public String render(List<Message> messages, String bos) {
        StringBuilder s = new StringBuilder(bos);
        switch (this) {
            case LLAMA3 -> {
                for (Message m : messages) {
                    s.append("<|start_header_id|>").append(m.role()).append("<|end_header_id|>\n\n")
                            .append(m.content().strip()).append("<|eot_id|>");
                }
                s.append("<|start_header_id|>assistant<|end_header_id|>\n\n");
            }
            case CHATML -> {
                for (Message m : messages) {
                    s.append("<|im_start|>").append(m.role()).append('\n').append(m.content()).append("<|im_end|>\n");
                }
                s.append("<|im_start|>assistant\n");
            }
            case PLAIN -> {
                for (Message m : messages) {
                    String role = m.role().isEmpty() ? "User"
                            : Character.toUpperCase(m.role().charAt(0)) + m.role().substring(1);
                    s.append(role).append(": ").append(m.content()).append("\n\n");
                }
                s.append("Assistant:");
            }
        }
        return s.toString();
    }
}
