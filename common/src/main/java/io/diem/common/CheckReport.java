package io.diem.common;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** The findings of a {@code check-config}: what is fine and what is wrong, one line each, errors with what to do. */
public final class CheckReport {

    private final List<String> lines = new ArrayList<>();
    private final List<String> errors = new ArrayList<>();

    public void ok(String what) {
        lines.add("ok: " + what);
    }

    public void error(String what) {
        lines.add("error: " + what);
        errors.add(what);
    }

    public List<String> errors() {
        return List.copyOf(errors);
    }

    /** Prints every line; returns the exit status: 0 when nothing is wrong, 1 otherwise. */
    public int print(PrintWriter out) {
        lines.forEach(out::println);
        out.println(errors.isEmpty() ? "configuration ok" : errors.size() + " problem(s) found");
        out.flush();
        return errors.isEmpty() ? 0 : 1;
    }
}
