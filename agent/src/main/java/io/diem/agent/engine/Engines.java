package io.diem.agent.engine;

import io.diem.agent.engine.cpu.CpuEngine;
import io.diem.agent.engine.cuda.CudaEngine;
import io.diem.agent.engine.cuda.CudaSupport;
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
            case "cuda": {
                CudaSupport.Probe probe = CudaSupport.probe();
                if (!probe.available()) {
                    throw new IllegalArgumentException("engine 'cuda' is not available: " + probe.reason()
                            + "; use --engine cpu or auto");
                }
                return new CudaEngine(probe.gpus().get(0));
            }
            case "auto": {
                CudaSupport.Probe probe = CudaSupport.probe();
                if (probe.available()) {
                    CudaSupport.Gpu gpu = probe.gpus().get(0);
                    log.accept("engine: cuda on GPU " + gpu.index() + " (" + gpu.name() + ", " + (gpu.memoryTotalBytes() >> 20)
                            + " MiB)");
                    return new CudaEngine(gpu);
                }
                log.accept("engine: cpu (" + cpuThreads + " threads) because " + probe.reason());
                return new CpuEngine(cpuThreads);
            }
            default:
                throw new IllegalArgumentException("unknown engine '" + choice + "' (cpu, cuda or auto)");
        }
    }
}
