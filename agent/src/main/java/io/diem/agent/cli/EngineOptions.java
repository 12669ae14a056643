package io.diem.agent.cli;

import io.diem.agent.engine.Engines;
import io.diem.agent.engine.InferenceEngine;
import java.util.List;
import java.util.function.Consumer;
import picocli.CommandLine.Option;

/** {@code --engine} and {@code --threads}, shared by {@code run} and {@code serve}. */
final class EngineOptions {

    @Option(names = "--engine", defaultValue = "auto", description = "cpu, cuda or auto. Default: ${DEFAULT-VALUE}.")
    String engine;

    @Option(names = "--threads", description = "CPU engine threads (default: available processors).")
    Integer threads;

    /** One engine: the first GPU, or the CPU. */
    InferenceEngine open(Consumer<String> log) {
        return Engines.open(engine, cpuThreads(), log);
    }

    /** One engine per GPU, or the CPU. */
    List<InferenceEngine> openAll(Consumer<String> log) {
        return Engines.openAll(engine, cpuThreads(), log);
    }

    private int cpuThreads() {
        return threads != null ? threads : Runtime.getRuntime().availableProcessors();
    }
}
