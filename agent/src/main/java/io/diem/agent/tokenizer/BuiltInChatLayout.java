package io.diem.agent.tokenizer;

import java.util.List;
import java.util.Set;

/**
 * The chat layouts for models that ship no {@code chat_template}: chosen by the special tokens the
 * vocabulary has (Llama-3 headers, ChatML markers), else a plain text layout. Each opens with the
 * BOS token's text when the model adds one.
 *
 * <ul>
 *   <li>{@code LLAMA3}: {@code <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>…}
 *       then an open assistant header.</li>
 *   <li>{@code CHATML}: {@code <|im_start|>role\ncontent<|im_end|>\n…} then {@code <|im_start|>assistant\n}.</li>
 *   <li>{@code PLAIN} (default): BOS, then {@code "System: …\n\nUser: …\n\nAssistant: …\n\n"} per message,
 *       then {@code "Assistant:"}.</li>
 * </ul>
 */
public enum BuiltInChatLayout {
    LLAMA3, CHATML, PLAIN;

    /** The layout a vocabulary's special tokens suggest. */
    static BuiltInChatLayout detect(Set<String> tokens) {
        if (tokens.contains("<|start_header_id|>") && tokens.contains("<|eot_id|>")) {
            return LLAMA3;
        }
        if (tokens.contains("<|im_start|>") && tokens.contains("<|im_end|>")) {
            return CHATML;
        }
        return PLAIN;
    }

    /** This layout as a template, opening with {@code bos} (the BOS token's text, or empty). */
    ChatTemplate withBos(String bos) {
        BuiltInChatLayout layout = this;
        return new ChatTemplate() {
            @Override
            public ChatPrompt render(List<Message> messages) {
                return layout.render(messages, bos);
            }

            @Override
            public String kind() {
                return layout.name().toLowerCase(java.util.Locale.ROOT);
            }
        };
    }

    /**
     * @param bos the BOS token text to open with, or empty
     */
    public ChatPrompt render(List<ChatTemplate.Message> messages, String bos) {
        StringBuilder s = new StringBuilder(bos);
        List<ChatPrompt.Literal> literals = new java.util.ArrayList<>();
        switch (this) {
            case LLAMA3 -> {
                for (ChatTemplate.Message m : messages) {
                    s.append("<|start_header_id|>").append(m.role()).append("<|end_header_id|>\n\n");
                    literal(s, literals, m.content().strip());
                    s.append("<|eot_id|>");
                }
                s.append("<|start_header_id|>assistant<|end_header_id|>\n\n");
            }
            case CHATML -> {
                for (ChatTemplate.Message m : messages) {
                    s.append("<|im_start|>").append(m.role()).append('\n');
                    literal(s, literals, m.content());
                    s.append("<|im_end|>\n");
                }
                s.append("<|im_start|>assistant\n");
            }
            case PLAIN -> {
                for (ChatTemplate.Message m : messages) {
                    String role = m.role().isEmpty() ? "User"
                            : Character.toUpperCase(m.role().charAt(0)) + m.role().substring(1);
                    s.append(role).append(": ");
                    literal(s, literals, m.content());
                    s.append("\n\n");
                }
                s.append("Assistant:");
            }
        }
        return new ChatPrompt(s.toString(), literals);
    }

    private static void literal(StringBuilder s, List<ChatPrompt.Literal> literals, String content) {
        literals.add(new ChatPrompt.Literal(s.length(), s.length() + content.length()));
        s.append(content);
    }
}
