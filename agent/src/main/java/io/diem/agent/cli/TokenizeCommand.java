package io.diem.agent.cli;

import io.diem.agent.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code diem-agent tokenize}: text to ids, or ids back to text. */
@Command(name = "tokenize", mixinStandardHelpOptions = true, description = "Print the token ids of TEXT (or, with --decode, the text of IDS).")
final class TokenizeCommand implements Callable<Integer> {

    @Option(names = "--tokenizer", required = true, description = "tokenizer.json (a model directory also works).")
    Path tokenizer;

    @Option(names = "--decode", description = "Decode comma- or space-separated ids instead of encoding text.")
    boolean decode;

    @Parameters(arity = "1..*", paramLabel = "TEXT|IDS", description = "Text to encode (words joined by spaces), or with --decode the token ids.")
    List<String> input;

    @Override
    public Integer call() throws Exception {
        Path file = tokenizer.toFile().isDirectory() ? tokenizer.resolve("tokenizer.json") : tokenizer;
        Tokenizer t = Tokenizer.load(file);
        String joined = String.join(" ", input);
        if (decode) {
            List<Integer> ids = new ArrayList<>();
            for (String part : joined.split("[,\\s]+")) {
                if (!part.isEmpty()) {
                    ids.add(RunCommand.parseId(part));
                }
            }
            for (int id : ids) {
                if (!t.contains(id)) {
                    throw new IllegalArgumentException("token id " + id + " is outside the vocabulary (0.." + (t.vocabularySize() - 1) + ")");
                }
            }
            System.out.println(t.decode(ids));
        } else {
            System.out.println(t.encode(joined).stream().map(String::valueOf).collect(Collectors.joining(",")));
        }
        return 0;
    }
}
