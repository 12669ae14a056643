package io.diem.common;

import java.time.Instant;
import java.util.Locale;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * {@code --log-level} and {@code --log-format} for a program and all its commands (inherited options;
 * also {@code PREFIX_LOG_LEVEL} / {@code log-level = …} in the config like every option). Logs go to
 * stderr: one text line per record with a UTC timestamp (journald and terminals), or one JSON object
 * per line ({@code ts}, {@code level}, {@code logger}, {@code message}, {@code error}) for log shippers.
 */
public final class LogOptions {

    /** Log levels by their common names. */
    public enum LogLevel {
        ERROR(Level.SEVERE), WARN(Level.WARNING), INFO(Level.INFO), DEBUG(Level.FINE), TRACE(Level.FINEST), OFF(Level.OFF);

        final Level jul;

        LogLevel(Level jul) {
            this.jul = jul;
        }
    }

    public enum LogFormat { TEXT, JSON }

    @Option(names = "--log-level", scope = ScopeType.INHERIT, defaultValue = "info", converter = LevelConverter.class,
            description = "Least severe log level shown: error, warn, info, debug, trace or off. Default: ${DEFAULT-VALUE}.")
    public LogLevel level = LogLevel.INFO;

    @Option(names = "--log-format", scope = ScopeType.INHERIT, defaultValue = "text", converter = FormatConverter.class,
            description = "Log lines as text (UTC timestamp, level, logger, message) or json (one object per line). "
                    + "Default: ${DEFAULT-VALUE}.")
    public LogFormat format = LogFormat.TEXT;

    /** Applies the chosen level and format to java.util.logging (where SLF4J and Netty log too). */
    public void apply() {
        Logger root = Logger.getLogger("");
        for (Handler h : root.getHandlers()) {
            root.removeHandler(h);
        }
        ConsoleHandler stderr = new ConsoleHandler();
        stderr.setLevel(Level.ALL);
        stderr.setFormatter(format == LogFormat.JSON ? new JsonFormatter() : new TextFormatter());
        root.addHandler(stderr);
        root.setLevel(level.jul);
    }

    static final class LevelConverter implements picocli.CommandLine.ITypeConverter<LogLevel> {
        @Override
        public LogLevel convert(String value) {
            try {
                return LogLevel.valueOf(value.strip().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException("'" + value + "' is not a log level (error, warn, info, "
                        + "debug, trace, off)");
            }
        }
    }

    static final class FormatConverter implements picocli.CommandLine.ITypeConverter<LogFormat> {
        @Override
        public LogFormat convert(String value) {
            try {
                return LogFormat.valueOf(value.strip().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException("'" + value + "' is not a log format (text, json)");
            }
        }
    }

    /** {@code 2026-12-02T04:30:00.123Z INFO logger: message}, then the stack trace of a thrown error. */
    static final class TextFormatter extends Formatter {
        @Override
        public String format(LogRecord r) {
            StringBuilder s = new StringBuilder().append(Instant.ofEpochMilli(r.getMillis())).append(' ').append(name(r.getLevel()))
                    .append(' ').append(r.getLoggerName()).append(": ").append(formatMessage(r)).append(System.lineSeparator());
            if (r.getThrown() != null) {
                java.io.StringWriter w = new java.io.StringWriter();
                r.getThrown().printStackTrace(new java.io.PrintWriter(w));
                s.append(w);
            }
            return s.toString();
        }
    }

    /** One JSON object per record, on one line. */
    static final class JsonFormatter extends Formatter {
        @Override
        public String format(LogRecord r) {
            com.google.gson.JsonObject o = new com.google.gson.JsonObject();
            o.addProperty("ts", Instant.ofEpochMilli(r.getMillis()).toString());
            o.addProperty("level", name(r.getLevel()));
            o.addProperty("logger", r.getLoggerName());
            o.addProperty("message", formatMessage(r));
            if (r.getThrown() != null) {
                java.io.StringWriter w = new java.io.StringWriter();
                r.getThrown().printStackTrace(new java.io.PrintWriter(w));
                o.addProperty("error", w.toString());
            }
            return o + System.lineSeparator();
        }
    }

    static String name(Level level) {
        int v = level.intValue();
        return v >= Level.SEVERE.intValue() ? "ERROR" : v >= Level.WARNING.intValue() ? "WARN" : v >= Level.INFO.intValue() ? "INFO"
                : v >= Level.FINE.intValue() ? "DEBUG" : "TRACE";
    }
}
