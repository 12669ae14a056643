package io.diem.agent.engine;

import java.util.List;

/**
 * Finds stop sequences in streamed text. Text is released only once it cannot be the beginning of a
 * stop sequence; when one matches, the text before it is released and the rest is dropped.
 */
final class StopMatcher {

    private final List<String> stops;
    private final int longest;
    private final StringBuilder text = new StringBuilder();
    private int released;
    private boolean matched;

    StopMatcher(List<String> stops) {
        this.stops = stops;
        this.longest = stops.stream().mapToInt(String::length).max().orElse(0);
    }

    /** Adds decoded text; returns what can be shown now. */
    String append(String more) {
        int searchFrom = Math.max(0, text.length() - longest + 1);
        text.append(more);
        int cut = -1;
        for (String stop : stops) {
            int at = text.indexOf(stop, Math.max(0, Math.min(searchFrom, text.length())));
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
            }
        }
        if (cut >= 0) {
            matched = true;
            text.setLength(Math.max(cut, released));
            return take(text.length());
        }
        return take(text.length() - heldBack());
    }

    /** Releases everything still held (no stop sequence can complete any more). */
    String finish(String more) {
        text.append(more);
        return take(text.length());
    }

    boolean matched() {
        return matched;
    }

    /** All text released so far. */
    String text() {
        return text.substring(0, released);
    }

    /** Length of the longest suffix of the unreleased text that is a proper prefix of a stop sequence. */
    private int heldBack() {
        int max = Math.max(0, Math.min(longest - 1, text.length() - released));
        String tail = text.substring(text.length() - max);
        for (int k = max; k > 0; k--) {
            for (String stop : stops) {
                if (k < stop.length() && tail.regionMatches(max - k, stop, 0, k)) {
                    return k;
                }
            }
        }
        return 0;
    }

    private String take(int upTo) {
        if (upTo <= released) {
            return "";
        }
        String out = text.substring(released, upTo);
        released = upTo;
        return out;
    }
}
