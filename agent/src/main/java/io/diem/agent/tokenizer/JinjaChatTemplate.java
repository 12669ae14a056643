package io.diem.agent.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.objects.date.StrftimeFormatter;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jinjava.javax.el.CompositeELResolver;

/**
 * A model's own {@code chat_template}, rendered as Hugging Face's {@code apply_chat_template} renders
 * it: Jinja with {@code trim_blocks} and {@code lstrip_blocks}; the globals {@code messages},
 * {@code add_generation_prompt} (true), the special tokens ({@code bos_token}, {@code eos_token}, …),
 * {@code raise_exception(message)} and {@code strftime_now(format)}; no {@code tools}. The engine is
 * Jinjava, with the source adapted where its dialect differs ({@link JinjaSource}) and Python's string
 * methods added ({@link PythonStringMethods}).
 *
 * <p>Special-token text inside user and system messages stays text: before rendering, each such
 * string in their content is replaced by a private-use marker; after rendering, the markers are put
 * back and their ranges reported as {@link ChatPrompt#literals()}, which the tokenizer encodes as
 * plain text. Message values are never interpreted as Jinja.
 */
final class JinjaChatTemplate implements ChatTemplate {

    private static final char OPEN = '\uE000';
    private static final char CLOSE = '\uE001';
    private static final Pattern MARKER = Pattern.compile(OPEN + "(\\d{1,9})" + CLOSE);
    /** The largest prompt text a template may produce (a 1 MiB prompt many times over). */
    private static final long MAX_OUTPUT_CHARS = 16L << 20;

    private static final Jinjava JINJA = engine();

    private final String source;
    private final Map<String, String> specialTokens;
    /** Strings in user text that must stay text: the vocabulary's added tokens, and the marker character. */
    private final Pattern shielded;

    /**
     * @param specialTokens the tokenizer config's special tokens by name ({@code bos_token} → {@code <s>}, …)
     * @param addedTokens the vocabulary's added-token strings (kept as text when they appear in user content)
     */
    JinjaChatTemplate(String template, Map<String, String> specialTokens, java.util.Collection<String> addedTokens) {
        this.source = JinjaSource.adapt(template);
        this.specialTokens = Map.copyOf(specialTokens);
        List<String> alternatives = new ArrayList<>(addedTokens);
        alternatives.sort((a, b) -> b.length() - a.length());
        StringBuilder regex = new StringBuilder(Pattern.quote(String.valueOf(OPEN)));
        for (String a : alternatives) {
            if (!a.isEmpty()) {
                regex.append('|').append(Pattern.quote(a));
            }
        }
        this.shielded = Pattern.compile(regex.toString());
    }

    private static Jinjava engine() {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PythonStringMethods());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        Jinjava j = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true)
                .withNestedInterpretationEnabled(false).withMaxOutputSize(MAX_OUTPUT_CHARS).withElResolver(resolver).build());
        j.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", JinjaChatTemplate.class,
                "raiseException", String.class));
        j.getGlobalContext().registerFunction(new ELFunctionDefinition("", "strftime_now", JinjaChatTemplate.class,
                "strftimeNow", String.class));
        return j;
    }

    /** {@code raise_exception(message)}: the template refuses the conversation (roles out of order, …). */
    public static String raiseException(String message) {
        throw new TemplateRefusal(message);
    }

    /** {@code strftime_now(format)}: now, in UTC, formatted with Python's strftime directives. */
    public static String strftimeNow(String format) {
        return StrftimeFormatter.format(ZonedDateTime.now(ZoneOffset.UTC), format);
    }

    /** The template's own refusal, raised by {@code raise_exception}. */
    static final class TemplateRefusal extends RuntimeException {
        TemplateRefusal(String message) {
            super(message);
        }
    }

    @Override
    public String kind() {
        return "jinja";
    }

    /** @throws IllegalArgumentException when the template refuses the messages or cannot be rendered */
    @Override
    public ChatPrompt render(List<Message> messages) {
        List<String> literals = new ArrayList<>();
        List<Map<String, Object>> bound = new ArrayList<>(messages.size());
        for (Message m : messages) {
            Map<String, Object> message = new HashMap<>();
            message.put("role", m.role());
            message.put("content", m.role().equals("assistant") ? m.content() : shield(m.content(), literals));
            bound.add(message);
        }
        Map<String, Object> context = new HashMap<>(specialTokens);
        context.put("messages", bound);
        context.put("add_generation_prompt", true);
        RenderResult result = JINJA.renderForResult(source, context);
        for (TemplateError e : result.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new IllegalArgumentException("the model's chat template refused the messages: " + refusal(e));
            }
        }
        return unshield(result.getOutput(), literals);
    }

    private static String refusal(TemplateError e) {
        Throwable t = e.getException();
        while (t != null) {
            if (t instanceof TemplateRefusal r) {
                return r.getMessage();
            }
            t = t.getCause();
        }
        String message = e.getMessage();
        return message == null ? e.getReason().name() : message;
    }

    /** {@code content} with every shielded string replaced by a numbered marker; the strings go to {@code literals}. */
    private String shield(String content, List<String> literals) {
        Matcher m = shielded.matcher(content);
        if (!m.find()) {
            return content;
        }
        StringBuilder out = new StringBuilder(content.length() + 16);
        int last = 0;
        do {
            out.append(content, last, m.start()).append(OPEN).append(literals.size()).append(CLOSE);
            literals.add(m.group());
            last = m.end();
        } while (m.find());
        return out.append(content, last, content.length()).toString();
    }

    private static ChatPrompt unshield(String rendered, List<String> literals) {
        if (literals.isEmpty()) {
            return new ChatPrompt(rendered, List.of());
        }
        StringBuilder out = new StringBuilder(rendered.length());
        List<ChatPrompt.Literal> ranges = new ArrayList<>();
        Matcher m = MARKER.matcher(rendered);
        int last = 0;
        while (m.find()) {
            int k = Integer.parseInt(m.group(1));
            if (k >= literals.size()) {
                continue;
            }
            out.append(rendered, last, m.start());
            ranges.add(new ChatPrompt.Literal(out.length(), out.length() + literals.get(k).length()));
            out.append(literals.get(k));
            last = m.end();
        }
        out.append(rendered, last, rendered.length());
        return new ChatPrompt(out.toString(), ranges);
    }
}
