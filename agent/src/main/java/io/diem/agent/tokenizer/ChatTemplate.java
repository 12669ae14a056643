package io.diem.agent.tokenizer;

import java.util.List;

/**
 * Turns chat messages into the prompt a model was trained on. A model that ships a
 * {@code chat_template} in its {@code tokenizer_config.json} gets that template, rendered as Hugging
 * Face renders it ({@link JinjaChatTemplate}); only a model without one gets a built-in layout
 * ({@link BuiltInChatLayout}).
 */
public interface ChatTemplate {

    /** One chat message: role ({@code system}, {@code user} or {@code assistant}) and text. */
    record Message(String role, String content) {}

    /** The prompt for {@code messages}, ending where the assistant's answer begins. */
    ChatPrompt render(List<Message> messages);

    /** A short name for logs and {@code describe}: {@code jinja} or the built-in layout's name. */
    String kind();
}
