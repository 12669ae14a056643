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
     * One engine per device: every GPU for {@code cuda} (and {@code auto} when there is one), else one
     * CPU engine. {@code log} receives the line that says which was picked and why.
     */
    public static java.util.List<InferenceEngine> openAll(String choice, int cpuThreads, Consumer<String> log) {
        InferenceEngine first = open(choice, cpuThreads, log);
        java.util.List<InferenceEngine> engines = new java.util.ArrayList<>(java.util.List.of(first));
        if (first instanceof CudaEngine) {
            for (CudaSupport.Gpu gpu : CudaSupport.probe().gpus().subList(1, CudaSupport.probe().gpus().size())) {
                engines.add(new CudaEngine(gpu));
            }
        }
        return engines;
    }

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
