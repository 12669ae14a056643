package io.diem.gateway.cli;

import static io.diem.gateway.cli.CtlOutput.admin;

import io.diem.gateway.ledger.Units;
import io.diem.v1.ListModelPricesRequest;
import io.diem.v1.ListModelPricesResponse;
import io.diem.v1.ModelPrice;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code diemctl} commands for model prices. */
final class PriceCommands {

    private PriceCommands() {}

    @Command(name = "price", mixinStandardHelpOptions = true, description = "Model prices (admin).",
            subcommands = {PriceCmd.Set.class, PriceCmd.List.class})
    static final class PriceCmd {
        @Command(name = "set", mixinStandardHelpOptions = true, description = "Set a model's prices in USD; unnamed prices keep their value (0 for a new model).")
        static final class Set extends CtlCommand {
            @picocli.CommandLine.Parameters(paramLabel = "MODEL", arity = "0..1", description = "Model name, as nodes serve it.") String modelName;
            @Option(names = "--model", hidden = true, description = "Same as MODEL (older form).") String modelOption;
            @Option(names = "--prompt-per-million", description = "USD per 1M prompt tokens.") String prompt;
            @Option(names = "--completion-per-million", description = "USD per 1M completion tokens.") String completion;
            @Option(names = "--per-gpu-second", description = "USD per GPU-second.") String gpu;

            @Override
            public Integer call() {
                String model = positionalOrOption(modelName, modelOption, "the model");
                if (model.isEmpty()) {
                    throw new IllegalArgumentException("name the MODEL whose prices to set: price set MODEL --prompt-per-million USD …");
                }
                return call(c -> {
                    ModelPrice current = admin(c).listModelPrices(ListModelPricesRequest.getDefaultInstance()).getPricesList()
                            .stream().filter(p -> p.getModel().equals(model)).findFirst()
                            .orElse(ModelPrice.newBuilder().setModel(model).build());
                    ModelPrice.Builder b = current.toBuilder();
                    if (prompt != null) {
                        b.setPromptMicroUsdPerMillion(Units.parseMicro(prompt));
                    }
                    if (completion != null) {
                        b.setCompletionMicroUsdPerMillion(Units.parseMicro(completion));
                    }
                    if (gpu != null) {
                        b.setMicroUsdPerGpuSecond(Units.parseMicro(gpu));
                    }
                    return admin(c).setModelPrice(b.build());
                }, CtlOutput::describe);
            }
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "List model prices.")
        static final class List extends CtlCommand {
            @Override
            public Integer call() {
                return call(c -> admin(c).listModelPrices(ListModelPricesRequest.getDefaultInstance()),
                        (ListModelPricesResponse r) -> String.join("\n", r.getPricesList().stream().map(CtlOutput::describe).toList()));
            }
        }
    }
}
