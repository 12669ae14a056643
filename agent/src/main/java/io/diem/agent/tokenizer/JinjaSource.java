package io.diem.agent.tokenizer;

/**
 * Rewrites a Hugging Face chat template into the Jinja that Jinjava reads the same way Python's
 * Jinja2 does. Three gaps, each closed by a rewrite that keeps the template's meaning:
 * <ul>
 *   <li>whitespace control on expressions and comments ({@code {{-}, {@code -}}}, {@code {#-}, {@code -#}}):
 *       applied here, to the template's text, for statement tags too;</li>
 *   <li>keyword arguments bind their whole value ({@code namespace(i=messages|length - 1)} means
 *       {@code i=(messages|length - 1)}), so each value is parenthesised;</li>
 *   <li>the reversing slice {@code [::-1]} becomes the {@code reverse} filter.</li>
 * </ul>
 */
final class JinjaSource {

    private JinjaSource() {}

    static String adapt(String template) {
        return reversingSlices(keywordArguments(whitespaceControl(template)));
    }

    /** Applies {@code -} whitespace control: strips the template text's whitespace beside the marked tag side. */
    static String whitespaceControl(String t) {
        StringBuilder out = new StringBuilder(t.length());
        int i = 0;
        while (i < t.length()) {
            if (i + 2 < t.length() && t.charAt(i) == '{' && "{%#".indexOf(t.charAt(i + 1)) >= 0 && t.charAt(i + 2) == '-') {
                int end = out.length();
                while (end > 0 && Character.isWhitespace(out.charAt(end - 1))) {
                    end--;
                }
                out.setLength(end);
                out.append('{').append(t.charAt(i + 1));
                i += 3;
                int close = tagEnd(t, i, t.charAt(i - 2));
                i = copyTag(t, i, close, out);
                continue;
            }
            if (i + 1 < t.length() && t.charAt(i) == '{' && "{%#".indexOf(t.charAt(i + 1)) >= 0) {
                out.append('{').append(t.charAt(i + 1));
                i += 2;
                int close = tagEnd(t, i, t.charAt(i - 1));
                i = copyTag(t, i, close, out);
                continue;
            }
            out.append(t.charAt(i++));
        }
        return out.toString();
    }

    /** Copies a tag's inside and its closing delimiter; a {@code -} before the delimiter strips what follows. */
    private static int copyTag(String t, int from, int close, StringBuilder out) {
        if (close < 0) {
            out.append(t, from, t.length());
            return t.length();
        }
        boolean strip = close > from && t.charAt(close - 1) == '-';
        out.append(t, from, strip ? close - 1 : close).append(t, close, close + 2);
        int i = close + 2;
        if (strip) {
            while (i < t.length() && Character.isWhitespace(t.charAt(i))) {
                i++;
            }
        }
        return i;
    }

    /** Where the tag opened by {@code kind} ({@code {}, {@code %} or {@code #}) closes, skipping string literals; -1 if never. */
    private static int tagEnd(String t, int from, char kind) {
        char closer = kind == '{' ? '}' : kind;
        char quote = 0;
        for (int i = from; i + 1 < t.length(); i++) {
            char c = t.charAt(i);
            if (kind != '#' && quote != 0) {
                if (c == '\\') {
                    i++;
                } else if (c == quote) {
                    quote = 0;
                }
            } else if (kind != '#' && (c == '\'' || c == '"')) {
                quote = c;
            } else if (c == closer && t.charAt(i + 1) == '}') {
                return i;
            }
        }
        return -1;
    }

    /** Parenthesises the value of every keyword argument inside a call's parentheses. */
    static String keywordArguments(String t) {
        StringBuilder out = new StringBuilder(t.length() + 16);
        java.util.ArrayDeque<boolean[]> frames = new java.util.ArrayDeque<>(); // per open bracket: {isParen, valueOpen}
        char quote = 0;
        boolean inTag = false;
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (!inTag) {
                if (c == '{' && i + 1 < t.length() && (t.charAt(i + 1) == '{' || t.charAt(i + 1) == '%')) {
                    inTag = true;
                    frames.clear();
                    out.append(c).append(t.charAt(++i));
                } else {
                    out.append(c);
                }
                continue;
            }
            if (quote != 0) {
                out.append(c);
                if (c == '\\' && i + 1 < t.length()) {
                    out.append(t.charAt(++i));
                } else if (c == quote) {
                    quote = 0;
                }
                continue;
            }
            switch (c) {
                case '\'', '"' -> {
                    quote = c;
                    out.append(c);
                }
                case '(', '[', '{' -> {
                    frames.push(new boolean[] {c == '(', false});
                    out.append(c);
                }
                case ')', ']', '}' -> {
                    if (frames.isEmpty() && (c == '}') && i + 1 < t.length() && t.charAt(i + 1) == '}') {
                        inTag = false;
                        out.append("}}");
                        i++;
                        continue;
                    }
                    closeValue(frames, out);
                    if (!frames.isEmpty()) {
                        frames.pop();
                    }
                    out.append(c);
                }
                case ',' -> {
                    closeValue(frames, out);
                    out.append(c);
                }
                case '%' -> {
                    if (frames.isEmpty() && i + 1 < t.length() && t.charAt(i + 1) == '}') {
                        inTag = false;
                        out.append("%}");
                        i++;
                    } else {
                        out.append(c);
                    }
                }
                default -> {
                    if (!frames.isEmpty() && frames.peek()[0] && !frames.peek()[1] && (Character.isLetter(c) || c == '_')
                            && argumentStart(out)) {
                        int j = i;
                        while (j < t.length() && (Character.isLetterOrDigit(t.charAt(j)) || t.charAt(j) == '_')) {
                            j++;
                        }
                        int k = j;
                        while (k < t.length() && t.charAt(k) == ' ') {
                            k++;
                        }
                        if (k < t.length() && t.charAt(k) == '=' && (k + 1 >= t.length() || t.charAt(k + 1) != '=')) {
                            out.append(t, i, k + 1).append('(');
                            frames.peek()[1] = true;
                            i = k;
                            continue;
                        }
                        out.append(t, i, j);
                        i = j - 1;
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.toString();
    }

    private static void closeValue(java.util.ArrayDeque<boolean[]> frames, StringBuilder out) {
        if (!frames.isEmpty() && frames.peek()[0] && frames.peek()[1]) {
            out.append(')');
            frames.peek()[1] = false;
        }
    }

    /** Whether the output so far ends where a call argument begins: after {@code (} or {@code ,} and spaces. */
    private static boolean argumentStart(StringBuilder out) {
        int i = out.length() - 1;
        while (i >= 0 && Character.isWhitespace(out.charAt(i))) {
            i--;
        }
        return i >= 0 && (out.charAt(i) == '(' || out.charAt(i) == ',');
    }

    static String reversingSlices(String t) {
        return t.replaceAll("\\[\\s*:\\s*:\\s*-1\\s*]", "|reverse");
    }
}
