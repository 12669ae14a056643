package io.diem.agent.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.diem.agent.engine.Engines;
import io.diem.agent.engine.InferenceEngine;
import io.diem.agent.engine.Sequence;
import io.diem.agent.engine.cpu.CpuEngine;
import io.diem.agent.model.DType;
import io.diem.agent.model.Model;
import io.diem.agent.model.ModelConfig;
import io.diem.agent.model.ModelLoader;
import io.diem.agent.model.TestModelMaker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The CUDA engine. Without a driver and GPU only the parts that need none run here (probe, engine
 * choice, placement, the committed PTX); the kernel tests skip with the probe's reason and run for
 * real on a GPU machine.
 */
class CudaEngineTest {

    @TempDir
    Path dir;

    @Test
    void theProbeAnswersWithGpusOrAReasonAndAutoFallsBackToTheCpu() {
        CudaSupport.Probe probe = CudaSupport.probe();
        assertThat(probe.available() || !probe.reason().isEmpty()).isTrue();
        List<String> log = new ArrayList<>();
        try (InferenceEngine e = Engines.open("auto", 1, log::add)) {
            assertThat(log).hasSize(1);
            if (probe.available()) {
                assertThat(e.name()).isEqualTo("cuda");
            } else {
                assertThat(e.name()).isEqualTo("cpu");
                assertThat(log.get(0)).contains("because " + probe.reason());
                assertThatThrownBy(() -> Engines.open("cuda", 1, s -> {})).hasMessageContaining("engine 'cuda' is not available");
            }
        }
    }

    @Test
    void placementArithmeticForTheLlama32OneBShape() throws Exception {
        ModelConfig c = new ModelConfig("llama", 2048, 8192, 16, 32, 8, 64, 128256, 131072, 1e-5f, 500000,
                io.diem.agent.model.RopeScaling.NONE, true, false, false, 0, 1, List.of(2));
        assertThat(Placement.kvBytesPerToken(c)).isEqualTo(2L * 16 * 512 * 4); // 64 KiB per token
        long free = 80L << 30;
        int tokens = Placement.maxTokens(c, free);
        assertThat(tokens).isEqualTo((int) Math.min(131072, (free - Placement.RESERVE_BYTES) / Placement.sequenceBytes(c, 1)));
        assertThatThrownBy(() -> Placement.requireFits("model 1b", 3L << 30, 2L << 30))
                .hasMessage("model 1b needs 3072 MiB of GPU memory but only 2048 MiB are free (512 MiB kept in reserve)");
        Placement.requireFits("model 1b", 1L << 30, 2L << 30);
    }

    @Test
    void weightBytesCountNormsAndBiasesAsFloat32() throws Exception {
        TestModelMaker.make(dir.resolve("bf16"), new TestModelMaker.Options(TestModelMaker.Preset.TINY, 1, DType.BF16, true, false, false));
        Model m = new ModelLoader(null).load(dir.resolve("bf16"));
        ModelConfig c = m.config();
        long small = c.dim + c.layers * (2L * c.dim + c.qDim + 2L * c.kvDim);
        assertThat(Placement.weightBytes(m.weights())).isEqualTo(m.weights().bytes() + small * 2); // bf16 → f32 doubles them
    }

    @Test
    void theCommittedPtxHasEveryKernelTheEngineLoads() throws Exception {
        String ptx = CudaEngine.ptx();
        List<String> entries = new ArrayList<>();
        Matcher m = Pattern.compile("\\.entry (\\w+)\\(").matcher(ptx);
        while (m.find()) {
            entries.add(m.group(1));
        }
        assertThat(entries).containsExactlyInAnyOrder("embed_f32", "embed_f16", "embed_bf16", "rmsnorm", "matmul_f32",
                "matmul_f16", "matmul_bf16", "add", "rope", "attention", "swiglu", "embed_f32_at", "embed_f16_at",
                "embed_bf16_at", "rope_at", "kv_store_at", "attention_at");
        assertThat(ptx).contains(".target sm_80");
    }

    @Test
    void thePtxIsWhatTheBuildScriptMakesFromTheSource() throws Exception {
        Assumptions.assumeTrue(onPath("nvcc"), "nvcc is not installed; cannot regenerate the PTX to compare");
        Process p = new ProcessBuilder("bash", Path.of("..", "scripts", "build-kernels.sh").toString(), "--check")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void logitsAndGreedyTokensMatchTheCpuEngine(DType dtype) throws Exception {
        CudaSupport.Probe probe = CudaSupport.probe();
        Assumptions.assumeTrue(probe.available(), "no CUDA GPU here (" + probe.reason() + "); the kernels run on the device machine");
        Path path = dir.resolve(dtype.name());
        TestModelMaker.make(path, new TestModelMaker.Options(TestModelMaker.Preset.TINY, 2, dtype, dtype == DType.BF16, false, false));
        Model model = new ModelLoader(null).load(path);
        int[] prompt = {model.config().bosTokenId, 17, 300, 42};
        try (CudaEngine gpu = new CudaEngine(probe.gpus().get(0)); CpuEngine cpu = new CpuEngine(1);
                Sequence g = gpu.newSequence(model, 32); Sequence c = cpu.newSequence(model, 32)) {
            float[] gl = g.step(prompt).clone();
            float[] cl = c.step(prompt).clone();
            assertThat(relativeError(gl, cl)).isLessThan(1e-4);
            assertThat(g.lastStepComputeNanos()).isPositive();
            for (int i = 0; i < 16; i++) {
                int gt = io.diem.agent.engine.Sampler.argmax(gl);
                int ct = io.diem.agent.engine.Sampler.argmax(cl);
                assertThat(gt).as("greedy token %d", i).isEqualTo(ct);
                gl = g.step(new int[] {gt}).clone();
                cl = c.step(new int[] {ct}).clone();
            }
        }
    }

    static double relativeError(float[] a, float[] b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            num += (double) (a[i] - b[i]) * (a[i] - b[i]);
            den += (double) b[i] * b[i];
        }
        return Math.sqrt(num / den);
    }

    private static boolean onPath(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(d, tool))) {
                return true;
            }
        }
        return false;
    }
}
