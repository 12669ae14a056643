package io.diem.agent.engine.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.diem.agent.engine.Sequence;
import io.diem.agent.model.DType;
import io.diem.agent.model.Model;
import io.diem.agent.model.ModelLoader;
import io.diem.agent.model.TestModelMaker.Options;
import io.diem.agent.model.TestModelMaker.Preset;
import io.diem.agent.model.TestModelMaker;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The whole CPU forward pass against a float64 forward pass on the same weights. */
class CpuForwardTest {

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0}, qkvBias={1}, tied={2}, threads={3}")
    @CsvSource({
        "F32, false, false, 1",
        "F32, false, false, 2",
        "F16, false, true, 2",
        "BF16, true, false, 2",
    })
    void logitsMatchAFloat64ForwardPass(DType dtype, boolean qkvBias, boolean tied, int threads) throws Exception {
        Model model = make(new Options(Preset.TINY, 7, dtype, qkvBias, tied, false));
        int[] tokens = {model.config().bosTokenId, 17, 300, 42, 99, 5, 260, 1};
        ReferenceLlama reference = new ReferenceLlama(model.config(), model.weights(), tokens.length);
        try (CpuEngine engine = new CpuEngine(threads);
                Sequence sequence = engine.newSequence(model, tokens.length)) {
            for (int token : tokens) {
                float[] logits = sequence.step(new int[] {token});
                double[] expected = reference.forward(token);
                assertThat(relativeError(logits, expected)).as("position %d", sequence.position() - 1).isLessThan(1e-5);
            }
            assertThat(sequence.lastStepComputeNanos()).isPositive();
        }
    }

    @Test
    void prefillInOneStepEqualsTokenByToken() throws Exception {
        Model model = make(Options.of(Preset.TINY, 3));
        int[] prompt = {model.config().bosTokenId, 11, 12, 13, 300};
        try (CpuEngine engine = new CpuEngine(1);
                Sequence whole = engine.newSequence(model, 8);
                Sequence stepwise = engine.newSequence(model, 8)) {
            float[] a = whole.step(prompt).clone();
            float[] b = null;
            for (int t : prompt) {
                b = stepwise.step(new int[] {t});
            }
            assertThat(a).containsExactly(b);
            assertThat(whole.position()).isEqualTo(prompt.length);
        }
    }

    @Test
    void aBatchedStepGivesEverySequenceExactlyTheLogitsItGetsAlone() throws Exception {
        Model model = make(Options.of(Preset.TINY, 3));
        int[][] prompts = {{1, 11, 12, 13, 300}, {1, 5}, {1, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58}};
        int[] next = {7, 8, 9};
        float[][][] alone = new float[prompts.length][2][];
        try (CpuEngine engine = new CpuEngine(2)) {
            for (int i = 0; i < prompts.length; i++) {
                try (Sequence s = engine.newSequence(model, 40)) {
                    alone[i][0] = s.step(prompts[i]).clone();
                    alone[i][1] = s.step(new int[] {next[i]}).clone();
                }
            }
        }
        try (CpuEngine engine = new CpuEngine(2);
                Sequence a = engine.newSequence(model, 40);
                Sequence b = engine.newSequence(model, 40);
                Sequence c = engine.newSequence(model, 40)) {
            // step 1: a and b prefill, c prefills its first 7 tokens only
            var first = engine.stepAll(List.of(a, b, c), List.of(prompts[0], prompts[1], java.util.Arrays.copyOf(prompts[2], 7)));
            assertThat(first.logits()[0]).containsExactly(alone[0][0]);
            assertThat(first.logits()[1]).containsExactly(alone[1][0]);
            assertThat(first.computeNanos()).isPositive();
            // step 2: a and b decode while c prefills the rest of its prompt (crossing a KV block boundary)
            var second = engine.stepAll(List.of(a, b, c), List.of(new int[] {next[0]}, new int[] {next[1]},
                    java.util.Arrays.copyOfRange(prompts[2], 7, prompts[2].length)));
            assertThat(second.logits()[0]).containsExactly(alone[0][1]);
            assertThat(second.logits()[1]).containsExactly(alone[1][1]);
            assertThat(second.logits()[2]).containsExactly(alone[2][0]);
            var third = engine.stepAll(List.of(c), List.of(new int[] {next[2]}));
            assertThat(third.logits()[0]).containsExactly(alone[2][1]);
            assertThat(engine.kvBlocksInUse()).isEqualTo(2L * model.config().layers * 4); // 6 + 21 + 2 positions: 1 + 1 + 2 blocks
        }
    }

    @Test
    void shardedModelGivesTheSameLogitsAsOneFile() throws Exception {
        Model one = make(new Options(Preset.TINY, 5, DType.F32, false, false, false));
        Model sharded = new ModelLoader(null).load(makeDir("sharded", new Options(Preset.TINY, 5, DType.F32, false, false, true)));
        try (CpuEngine engine = new CpuEngine(1);
                Sequence a = engine.newSequence(one, 4);
                Sequence b = engine.newSequence(sharded, 4)) {
            assertThat(a.step(new int[] {1, 2, 3})).containsExactly(b.step(new int[] {1, 2, 3}));
        }
    }

    @Test
    void stepsBeyondCapacityOrVocabularyAreRefused() throws Exception {
        Model model = make(Options.of(Preset.TINY, 3));
        try (CpuEngine engine = new CpuEngine(1); Sequence s = engine.newSequence(model, 3)) {
            assertThatThrownBy(() -> s.step(new int[] {1, 2, 3, 4})).hasMessageContaining("capacity of 3");
            assertThatThrownBy(() -> s.step(new int[] {model.config().vocabSize})).hasMessageContaining("outside the vocabulary");
        }
    }

    static double relativeError(float[] actual, double[] expected) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = actual[i] - expected[i];
            num += d * d;
            den += expected[i] * expected[i];
        }
        return Math.sqrt(num / den);
    }

    private Model make(Options options) throws Exception {
        return new ModelLoader(null).load(makeDir("m", options));
    }

    private Path makeDir(String name, Options options) throws Exception {
        Path out = dir.resolve(name + "-" + options.dtype() + options.qkvBias() + options.tieEmbeddings() + options.shard());
        TestModelMaker.make(out, options);
        return out;
    }
}
