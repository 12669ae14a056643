package io.diem.common;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
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

    /**
     * Whether this user can write {@code dir}, or create it (its nearest existing ancestor is a writable
     * directory); {@code setting} names it ("state-dir"), {@code holds} says what lives there.
     */
    public void writableDirectory(String setting, Path dir, String holds) {
        Path existing = dir.toAbsolutePath();
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null || !Files.isDirectory(existing) || !Files.isWritable(existing)) {
            error(setting + " " + dir + " cannot be " + (Files.exists(dir) ? "written" : "created") + " by this user (" + holds
                    + " live there)");
        } else {
            ok(setting + " " + dir + (Files.exists(dir) ? " is writable" : " can be created"));
        }
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
