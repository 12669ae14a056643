package io.diem.agent.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.diem.agent.engine.cpu.CpuEngine;
import io.diem.agent.model.Model;
import io.diem.agent.model.ModelLoader;
import io.diem.agent.model.TestModelMaker.Options;
import io.diem.agent.model.TestModelMaker.Preset;
import io.diem.agent.model.TestModelMaker;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GeneratorTest {

    @TempDir
    static Path dir;
    static Model model;
    static CpuEngine engine;

    @BeforeAll
    static void load() throws Exception {
        TestModelMaker.make(dir.resolve("tiny"), Options.of(Preset.TINY, 4));
        model = new ModelLoader(null).load(dir.resolve("tiny"));
        engine = new CpuEngine(2);
    }

    @AfterAll
    static void close() {
        engine.close();
    }

    private GenerationResult run(SamplingParams p, int tokenLimit, long computeLimit, Set<Integer> eos, TokenSink sink,
            Cancellation cancel) {
        List<Integer> prompt = model.tokenizer().encode("The node agent runs");
        try (Sequence s = engine.newSequence(model, Math.min(model.config().contextLength, prompt.size() + p.maxTokens()))) {
            return Generator.generate(s, model.tokenizer(), new GenerationRequest(prompt, p, tokenLimit, computeLimit, eos),
                    sink, cancel);
        }
    }

    private GenerationResult run(SamplingParams p) {
        return run(p, 0, 0, Set.of(), TokenSink.DISCARD, new Cancellation());
    }

    @Test
    void sameSeedSameTokensDifferentSeedDifferentTokens() {
        SamplingParams a = new SamplingParams(1.0f, 0.95f, 40, 1234, 24, List.of());
        assertThat(run(a).completionTokens()).isEqualTo(run(a).completionTokens());
        SamplingParams b = new SamplingParams(1.0f, 0.95f, 40, 1235, 24, List.of());
        assertThat(run(b).completionTokens()).isNotEqualTo(run(a).completionTokens());
    }

    @Test
    void greedyIsArgmaxAndTopKOfOneIsGreedy() {
        GenerationResult greedy = run(SamplingParams.greedy(16));
        GenerationResult topK1 = run(new SamplingParams(1.5f, 1f, 1, 99, 16, List.of()));
        GenerationResult tinyNucleus = run(new SamplingParams(1.0f, 1e-6f, 0, 7, 16, List.of()));
        assertThat(topK1.completionTokens()).isEqualTo(greedy.completionTokens());
        assertThat(tinyNucleus.completionTokens()).isEqualTo(greedy.completionTokens());
        assertThat(greedy.finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(greedy.completionTokens()).hasSize(16);
    }

    @Test
    void streamedTextEqualsTheFinalTextAndTokensArriveOnce() {
        StringBuilder streamed = new StringBuilder();
        List<Integer> ids = new ArrayList<>();
        GenerationResult r = run(new SamplingParams(0.8f, 1f, 0, 5, 30, List.of()), 0, 0, Set.of(),
                (text, tokenIds) -> {
                    streamed.append(text);
                    for (int id : tokenIds) {
                        ids.add(id);
                    }
                }, new Cancellation());
        assertThat(streamed.toString()).isEqualTo(r.text());
        assertThat(ids).isEqualTo(r.completionTokens());
        assertThat(r.text()).isEqualTo(model.tokenizer().decode(r.completionTokens()));
    }

    @Test
    void stopSequenceEndsGenerationAndIsNotEmitted() {
        GenerationResult free = run(SamplingParams.greedy(40));
        String text = free.text();
        assertThat(text.length()).isGreaterThan(6);
        String stop = text.substring(4, 7);
        int expectedCut = text.indexOf(stop);
        StringBuilder streamed = new StringBuilder();
        GenerationResult stopped = run(new SamplingParams(0, 1, 0, 0, 40, List.of(stop)), 0, 0, Set.of(),
                (t, ids) -> streamed.append(t), new Cancellation());
        assertThat(stopped.finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(stopped.text()).isEqualTo(text.substring(0, expectedCut));
        assertThat(streamed.toString()).isEqualTo(stopped.text());
    }

    @Test
    void eosEndsGenerationWithoutBeingPartOfTheOutput() {
        GenerationResult free = run(SamplingParams.greedy(10));
        int third = free.completionTokens().get(2);
        GenerationResult r = run(SamplingParams.greedy(10), 0, 0, Set.of(third), TokenSink.DISCARD, new Cancellation());
        assertThat(r.finishReason()).isEqualTo(FinishReason.EOS);
        assertThat(r.completionTokens()).isEqualTo(free.completionTokens().subList(0, free.completionTokens().indexOf(third)));
    }

    @Test
    void ticketTokenLimitAndComputeLimitStopTheJob() {
        GenerationResult limited = run(SamplingParams.greedy(50), 5, 0, Set.of(), TokenSink.DISCARD, new Cancellation());
        assertThat(limited.finishReason()).isEqualTo(FinishReason.TOKEN_LIMIT);
        assertThat(limited.completionTokens()).hasSize(5);

        GenerationResult timed = run(SamplingParams.greedy(50), 0, 1, Set.of(), TokenSink.DISCARD, new Cancellation());
        assertThat(timed.finishReason()).isEqualTo(FinishReason.COMPUTE_TIME_LIMIT);
        assertThat(timed.completionTokens()).hasSize(1);
    }

    @Test
    void cancellationStopsBetweenSteps() {
        Cancellation cancel = new Cancellation();
        List<Integer> seen = new ArrayList<>();
        GenerationResult r = run(SamplingParams.greedy(50), 0, 0, Set.of(), (t, ids) -> {
            for (int id : ids) {
                seen.add(id);
            }
            if (seen.size() >= 3) {
                cancel.cancel();
            }
        }, cancel);
        assertThat(r.finishReason()).isEqualTo(FinishReason.CANCELLED);
        assertThat(r.completionTokens()).hasSize(3);
    }

    @Test
    void meteredComputeIsTheSumOfTheJobsSteps() {
        List<Integer> prompt = model.tokenizer().encode("The node agent runs");
        List<Long> steps = new ArrayList<>();
        GenerationResult r;
        try (Sequence inner = engine.newSequence(model, prompt.size() + 8)) {
            Sequence recording = new MeteredSequence(inner, steps::add);
            r = Generator.generate(recording, model.tokenizer(), new GenerationRequest(prompt, SamplingParams.greedy(8), 0, 0,
                    Set.of()), TokenSink.DISCARD, new Cancellation());
        }
        // One prefill step, then one step per completion token but the last (sampled from the previous step's logits).
        assertThat(steps).hasSize(r.completionTokens().size());
        assertThat(steps).allSatisfy(n -> assertThat(n).isPositive());
        assertThat(r.computeNanos()).isEqualTo(steps.stream().mapToLong(Long::longValue).sum());
    }

    @Test
    void badPromptsAreRefusedWithTheNumbers() {
        try (Sequence s = engine.newSequence(model, 4)) {
            assertThatThrownBy(() -> Generator.generate(s, model.tokenizer(),
                    new GenerationRequest(List.of(1, 2, 3, 4), SamplingParams.greedy(1), 0, 0, Set.of()),
                    TokenSink.DISCARD, new Cancellation())).hasMessageContaining("prompt of 4 tokens leaves no room");
            assertThatThrownBy(() -> Generator.generate(s, model.tokenizer(),
                    new GenerationRequest(List.of(100_000), SamplingParams.greedy(1), 0, 0, Set.of()),
                    TokenSink.DISCARD, new Cancellation())).hasMessageContaining("outside the vocabulary");
        }
        assertThatThrownBy(() -> new SamplingParams(2.5f, 1, 0, 0, 1, List.of())).hasMessageContaining("temperature");
        assertThatThrownBy(() -> new SamplingParams(1, 0, 0, 0, 1, List.of())).hasMessageContaining("top_p");
        assertThatThrownBy(() -> new SamplingParams(1, 1, 0, 0, 0, List.of())).hasMessageContaining("max_tokens");
    }
}
