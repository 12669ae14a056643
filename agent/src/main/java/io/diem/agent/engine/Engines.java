package io.diem.agent.engine;

import io.diem.agent.engine.cpu.CpuEngine;
import java.util.Locale;
import java.util.function.Consumer;

/** Chooses the engine for {@code --engine cpu|cuda|auto}. */
public final class Engines {

    private Engines() {}

    /**
     * @param log receives the one line that says which engine was picked and why, for {@code auto}
     */
    public static InferenceEngine open(String choice, int cpuThreads, Consumer<String> log) {
        switch (choice.toLowerCase(Locale.ROOT)) {
            case "cpu":
                return new CpuEngine(cpuThreads);
            case "cuda":
                throw new IllegalArgumentException("engine 'cuda' is not available in this build: the CUDA engine "
                        + "is not implemented yet; use --engine cpu or auto");
            case "auto":
                log.accept("engine: cpu (" + cpuThreads + " threads); this build has no CUDA engine yet");
                return new CpuEngine(cpuThreads);
            default:
                throw new IllegalArgumentException("unknown engine '" + choice + "' (cpu, cuda or auto)");
        }
    }
}
