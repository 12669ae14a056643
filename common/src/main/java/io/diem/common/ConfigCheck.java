package io.diem.common;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * What is wrong with a {@code serve} command's configuration before it starts: keys of the config file
 * that name no option (a misspelling would otherwise be ignored silently), each with the option it
 * probably meant. Used by {@code serve} (which refuses to start on them) and by {@code check-config}.
 */
public final class ConfigCheck {

    private ConfigCheck() {}

    /** The keys a config file may set for {@code spec}: its long option names without the dashes. */
    public static Set<String> keys(CommandSpec spec) {
        Set<String> out = new TreeSet<>();
        for (OptionSpec o : spec.options()) {
            String name = o.longestName();
            if (name.startsWith("--") && !o.usageHelp() && !o.versionHelp() && !name.equals("--config")) {
                out.add(name.substring(2));
                for (String alias : o.names()) {
                    if (alias.startsWith("--no-")) {
                        continue;
                    }
                    if (alias.startsWith("--")) {
                        out.add(alias.substring(2));
                    }
                }
            }
        }
        return out;
    }

    /** One message per key of the config file that names no option of {@code spec}; empty when all are known. */
    public static List<String> unknownKeys(CommandSpec spec) {
        List<String> problems = new ArrayList<>();
        if (!(spec.defaultValueProvider() instanceof ConfigDefaults config) || config.configFile() == null) {
            return problems;
        }
        Set<String> known = keys(spec);
        for (String key : config.fileKeys()) {
            if (!known.contains(key)) {
                String guess = closest(key, known);
                problems.add(config.configFile() + ": unknown key '" + key + "'"
                        + (guess == null ? " (valid keys: " + String.join(", ", known) + ")" : " (did you mean '" + guess + "'?)"));
            }
        }
        return problems;
    }

    /** The known name nearest to {@code key} by edit distance, when near enough to be a likely typo; else null. */
    static String closest(String key, Collection<String> known) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String k : known) {
            int d = distance(key, k);
            if (d < bestDistance) {
                bestDistance = d;
                best = k;
            }
        }
        return best != null && bestDistance <= Math.max(2, key.length() / 3) ? best : null;
    }

    /** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps cost 1. */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }
}
