package io.diem.common;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Where an option's value comes from when it is not on the command line: the environment
 * ({@code --data-dir} → {@code PREFIX_DATA_DIR}), then the config file ({@code data-dir = …}),
 * then the option's documented default. Flag > env > file > default.
 */
public final class ConfigDefaults implements IDefaultValueProvider {

    private final String envPrefix;
    private final Map<String, String> env;
    private final Properties file = new Properties();
    private final Path configFile;

    public ConfigDefaults(String envPrefix, Map<String, String> env, Path configFile) throws IOException {
        this.envPrefix = envPrefix;
        this.env = env;
        this.configFile = configFile;
        if (configFile != null) {
            if (!Files.isRegularFile(configFile)) {
                throw new IOException("config file " + configFile + " does not exist");
            }
            try (Reader r = Files.newBufferedReader(configFile, StandardCharsets.UTF_8)) {
                file.load(r);
            }
        }
    }

    /** Finds {@code --config FILE} (or {@code PREFIX_CONFIG}) before picocli parses the rest. */
    public static Path configFile(String[] args, String envPrefix, Map<String, String> env) {
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--config") && i + 1 < args.length) {
                return Path.of(args[i + 1]);
            }
            if (args[i].startsWith("--config=")) {
                return Path.of(args[i].substring("--config=".length()));
            }
        }
        String fromEnv = env.get(envPrefix + "CONFIG");
        return fromEnv == null || fromEnv.isEmpty() ? null : Path.of(fromEnv);
    }

    /** The config file read, or null. */
    public Path configFile() {
        return configFile;
    }

    /** The keys the config file sets. */
    public java.util.Set<String> fileKeys() {
        return new java.util.TreeSet<>(file.stringPropertyNames());
    }

    @Override
    public String defaultValue(ArgSpec arg) {
        if (!(arg instanceof OptionSpec option) || !option.longestName().startsWith("--")) {
            return null;
        }
        String key = option.longestName().substring(2);
        String envName = envPrefix + key.toUpperCase(Locale.ROOT).replace('-', '_');
        String value = env.get(envName);
        if (value != null && !value.isEmpty()) {
            return value;
        }
        value = file.getProperty(key);
        return value != null ? value.strip() : option.defaultValue();
    }
}
