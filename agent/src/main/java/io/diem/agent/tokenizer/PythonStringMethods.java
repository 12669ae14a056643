package io.diem.agent.tokenizer;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * Python's {@code str} methods for Jinjava, which otherwise offers only Java's: chat templates call
 * {@code content.startswith('<tool_response>')}, {@code .strip('\n')}, {@code .split('</think>')}
 * and the like. Resolves only calls on strings with a Python method name; everything else falls
 * through to Jinjava's own resolver.
 */
final class PythonStringMethods extends ELResolver {

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] types, Object[] params) {
        if (!(base instanceof String s) || method == null) {
            return null;
        }
        Object[] p = params == null ? new Object[0] : params;
        Object result;
        switch (method.toString()) {
            case "startswith" -> result = anyOf(p, 0, prefix -> s.startsWith(prefix));
            case "endswith" -> result = anyOf(p, 0, suffix -> s.endsWith(suffix));
            case "strip" -> result = strip(s, chars(p), true, true);
            case "lstrip" -> result = strip(s, chars(p), true, false);
            case "rstrip" -> result = strip(s, chars(p), false, true);
            case "split" -> result = p.length == 0 || p[0] == null ? splitWhitespace(s) : split(s, p[0].toString(),
                    p.length > 1 ? ((Number) p[1]).intValue() : -1);
            case "upper" -> result = s.toUpperCase(Locale.ROOT);
            case "lower" -> result = s.toLowerCase(Locale.ROOT);
            case "capitalize" -> result = s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
            case "title" -> result = title(s);
            case "splitlines" -> result = new ArrayList<>(s.lines().toList());
            case "count" -> result = (long) count(s, p[0].toString());
            case "find" -> result = (long) s.indexOf(p[0].toString());
            case "isspace" -> result = !s.isEmpty() && s.isBlank();
            case "isdigit" -> result = !s.isEmpty() && s.chars().allMatch(Character::isDigit);
            default -> {
                return null;
            }
        }
        context.setPropertyResolved(true);
        return result;
    }

    /** Python's {@code str.startswith(x)} takes a string or a tuple (a list here) of them. */
    private static boolean anyOf(Object[] p, int at, java.util.function.Predicate<String> test) {
        if (p.length <= at || p[at] == null) {
            throw new IllegalArgumentException("missing argument");
        }
        if (p[at] instanceof Iterable<?> many) {
            for (Object o : many) {
                if (test.test(String.valueOf(o))) {
                    return true;
                }
            }
            return false;
        }
        return test.test(p[at].toString());
    }

    /** The characters to strip: the argument, or null for whitespace. */
    private static String chars(Object[] p) {
        return p.length == 0 || p[0] == null ? null : p[0].toString();
    }

    static String strip(String s, String chars, boolean left, boolean right) {
        int a = 0;
        int b = s.length();
        while (left && a < b && (chars == null ? Character.isWhitespace(s.charAt(a)) : chars.indexOf(s.charAt(a)) >= 0)) {
            a++;
        }
        while (right && b > a && (chars == null ? Character.isWhitespace(s.charAt(b - 1)) : chars.indexOf(s.charAt(b - 1)) >= 0)) {
            b--;
        }
        return s.substring(a, b);
    }

    static List<String> split(String s, String separator, int maxSplits) {
        if (separator.isEmpty()) {
            throw new IllegalArgumentException("empty separator");
        }
        List<String> out = new ArrayList<>();
        int from = 0;
        int at;
        while ((maxSplits < 0 || out.size() < maxSplits) && (at = s.indexOf(separator, from)) >= 0) {
            out.add(s.substring(from, at));
            from = at + separator.length();
        }
        out.add(s.substring(from));
        return out;
    }

    private static List<String> splitWhitespace(String s) {
        List<String> out = new ArrayList<>();
        for (String part : s.strip().split("\\s+")) {
            if (!part.isEmpty()) {
                out.add(part);
            }
        }
        return out;
    }

    private static String title(String s) {
        StringBuilder out = new StringBuilder(s.length());
        boolean start = true;
        for (char c : s.toCharArray()) {
            out.append(start ? Character.toUpperCase(c) : Character.toLowerCase(c));
            start = !Character.isLetter(c);
        }
        return out.toString();
    }

    private static int count(String s, String sub) {
        if (sub.isEmpty()) {
            return s.length() + 1;
        }
        int n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) {
            n++;
        }
        return n;
    }

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {}

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return true;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return null;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }
}
