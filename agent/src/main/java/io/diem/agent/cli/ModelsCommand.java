package io.diem.agent.cli;

import io.diem.agent.model.DType;
import io.diem.agent.model.TestModelMaker;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code diem-agent models …}: model utilities. */
@Command(name = "models", mixinStandardHelpOptions = true, description = "Model utilities.",
        subcommands = {ModelsCommand.MakeTest.class})
final class ModelsCommand {

    @Command(name = "make-test", mixinStandardHelpOptions = true,
            description = "Write a complete random Llama model (Hugging Face layout, real byte-level BPE tokenizer).")
    static final class MakeTest implements Callable<Integer> {

        @Option(names = "--out", required = true, description = "Directory to write (created if missing).")
        Path out;

        @Option(names = "--preset", defaultValue = "tiny",
                description = "tiny (tests), small (stories110M shape, F32), 1b (Llama-3.2-1B shape, BF16). Default: ${DEFAULT-VALUE}.")
        String preset;

        @Option(names = "--seed", defaultValue = "1", description = "Weight seed (same seed, same files). Default: ${DEFAULT-VALUE}.")
        long seed;

        @Option(names = "--dtype", description = "Override the preset's weight type: f32, f16 or bf16.")
        String dtype;

        @Option(names = "--qkv-bias", description = "Give q/k/v projections biases (written as a Qwen2 model).")
        boolean qkvBias;

        @Override
        public Integer call() throws Exception {
            TestModelMaker.Preset p = TestModelMaker.Preset.parse(preset);
            TestModelMaker.Options base = TestModelMaker.Options.of(p, seed);
            DType type = dtype == null ? base.dtype() : DType.valueOf(dtype.toUpperCase(Locale.ROOT));
            TestModelMaker.Options options = new TestModelMaker.Options(p, seed, type, qkvBias, base.tieEmbeddings(), false);
            long start = System.nanoTime();
            TestModelMaker.make(out, options, System.err);
            System.out.printf("wrote %s model (%s, seed %d) to %s in %.1f s%n", preset, type, seed, out,
                    (System.nanoTime() - start) / 1e9);
            return 0;
        }
    }
}
