package io.diem.gateway.cli;

import static io.diem.gateway.cli.CtlOutput.describe;
import static io.diem.gateway.cli.CtlOutput.instant;

import io.diem.gateway.ledger.Units;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code diemctl} commands for the inference API: generate and models. */
final class InferenceCommands {

    private InferenceCommands() {}

    @Command(name = "generate", mixinStandardHelpOptions = true, description = "Stream a completion (app developers: the API in one command).")
    static final class GenerateCmd extends CtlCommand {
        @Option(names = "--model", required = true, description = "Model name (see models list).") String model;
        @Option(names = "--prompt", required = true, description = "Prompt text (BOS added where the model uses one); with --chat, the user's message.") String prompt;
        @Option(names = "--chat", description = "Send the prompt as a chat (a user message, with --system before it), rendered with "
                + "the model's own chat template.") boolean chat;
        @Option(names = "--system", description = "With --chat: a system message before the user's.") String system;
        @Option(names = "--max-tokens", defaultValue = "0", description = "Most completion tokens; 0 = the gateway's default "
                + "(256, or what the model's context leaves). Default: ${DEFAULT-VALUE}.") int maxTokens;
        @Option(names = "--temperature", defaultValue = "0.7", description = "Sampling temperature 0..2; 0 is greedy. Default: ${DEFAULT-VALUE}.") float temperature;
        @Option(names = "--top-p", defaultValue = "0", description = "Nucleus sampling mass (0, 1]; 0 means off. Default: ${DEFAULT-VALUE}.") float topP;
        @Option(names = "--top-k", defaultValue = "0", description = "Keep only the k most likely tokens; 0 means off. Default: ${DEFAULT-VALUE}.") int topK;
        @Option(names = "--seed", description = "Random seed: the same seed and prompt give the same tokens on the same engine.") Long seed;
        @Option(names = "--stop", description = "Stop before this text (repeatable, at most 4).") java.util.List<String> stop = new java.util.ArrayList<>();

        @Override
        public Integer call() {
            Diemctl root = root();
            io.diem.v1.SamplingParams.Builder sampling = io.diem.v1.SamplingParams.newBuilder().setMaxTokens(maxTokens)
                    .setTemperature(temperature).setTopP(topP).setTopK(topK).addAllStop(stop);
            if (seed != null) {
                sampling.setSeed(seed);
            }
            if (system != null && !chat) {
                throw new IllegalArgumentException("--system needs --chat (a system message is part of a chat)");
            }
            io.diem.v1.GenerateRequest.Builder builder = io.diem.v1.GenerateRequest.newBuilder().setModel(model).setSampling(sampling);
            if (chat) {
                io.diem.v1.ChatMessages.Builder messages = io.diem.v1.ChatMessages.newBuilder();
                if (system != null) {
                    messages.addMessages(io.diem.v1.ChatMessage.newBuilder().setRole("system").setContent(system));
                }
                builder.setChat(messages.addMessages(io.diem.v1.ChatMessage.newBuilder().setRole("user").setContent(prompt)));
            } else {
                builder.setPrompt(prompt);
            }
            io.diem.v1.GenerateRequest request = builder.build();
            PrintWriter out = root.spec.commandLine().getOut();
            StringBuilder text = new StringBuilder();
            return root.call(c -> {
                io.diem.v1.GenerateFinal last = null;
                var stream = io.diem.v1.InferenceGrpc.newBlockingStub(c).withDeadlineAfter(300, TimeUnit.SECONDS).generate(request);
                while (stream.hasNext()) {
                    io.diem.v1.GenerateResponse r = stream.next();
                    if (r.hasDelta()) {
                        text.append(r.getDelta().getText());
                        if (!root.json) {
                            out.print(r.getDelta().getText());
                            out.flush();
                        }
                    } else if (r.hasFinal()) {
                        last = r.getFinal();
                    }
                }
                if (last == null) {
                    throw new IllegalStateException("the stream ended without a final message");
                }
                return io.diem.v1.GenerateResponse.newBuilder().setFinal(last).build();
            }, (io.diem.v1.GenerateResponse r) -> {
                var f = r.getFinal();
                var u = f.getUsage();
                var b = f.getBalanceAfter();
                return String.format("%n[%s] %d prompt + %d completion tokens, %.3f %s-seconds, cost $%s; node %s, job %s%n"
                                + "[balance] $%s of $%s remaining today",
                        f.getFinishReason().name().replace("FINISH_REASON_", "").toLowerCase(Locale.ROOT), u.getPromptTokens(),
                        u.getCompletionTokens(), u.getGpuMicros() / 1e6,
                        u.getComputeKind() == io.diem.v1.ComputeKind.COMPUTE_KIND_GPU ? "GPU" : "CPU",
                        Units.format(u.getCostMicroUsd()), f.getNodeId(), f.getJobId(), Units.format(b.getRemainingMicroUsd()),
                        Units.format(b.getAllowanceMicroUsd()));
            }, text);
        }
    }
    @Command(name = "usage", mixinStandardHelpOptions = true, description = "An account's usage records (booked charges), newest first, "
            + "a page at a time.")
    static final class UsageCmd extends CtlCommand {
        @picocli.CommandLine.Parameters(paramLabel = "ACCOUNT", arity = "0..1", description = "Account id (admin keys); default: the key's own.")
        String account;
        @Option(names = "--page-size", defaultValue = "20", description = "Records per page, 1..1000. Default: ${DEFAULT-VALUE}.") int pageSize;
        @Option(names = "--page-token", defaultValue = "", description = "The token the previous page printed after 'more:'; empty for the newest.")
        String pageToken;
        @Option(names = "--all", description = "Fetch every page (with --json: one object with all records).") boolean all;

        @Override
        public Integer call() {
            String id = account == null ? "" : account;
            return call(c -> {
                var stub = io.diem.v1.InferenceGrpc.newBlockingStub(c);
                io.diem.v1.GetUsageResponse.Builder merged = io.diem.v1.GetUsageResponse.newBuilder();
                String token = pageToken;
                do {
                    io.diem.v1.GetUsageResponse page = stub.getUsage(io.diem.v1.GetUsageRequest.newBuilder().setAccountId(id)
                            .setPageSize(pageSize).setPageToken(token).build());
                    merged.addAllRecords(page.getRecordsList()).setNextPageToken(page.getNextPageToken());
                    token = page.getNextPageToken();
                } while (all && !token.isEmpty());
                return merged.build();
            }, (io.diem.v1.GetUsageResponse r) -> {
                StringBuilder s = new StringBuilder();
                for (io.diem.v1.UsageRecord u : r.getRecordsList()) {
                    s.append(String.format("%s  %s  %-10s %5d+%-5d tokens  %8.3f %s-s  $%s  %s%n", instant(u.getBookedAt()), u.getJobId(),
                            u.getModel(), u.getUsage().getPromptTokens(), u.getUsage().getCompletionTokens(), u.getUsage().getGpuMicros() / 1e6,
                            u.getUsage().getComputeKind() == io.diem.v1.ComputeKind.COMPUTE_KIND_GPU ? "GPU" : "CPU",
                            Units.format(u.getUsage().getCostMicroUsd()),
                            u.getFinishReason().name().replace("FINISH_REASON_", "").toLowerCase(Locale.ROOT)));
                }
                if (r.getRecordsCount() == 0) {
                    s.append("no usage records");
                }
                if (!r.getNextPageToken().isEmpty()) {
                    s.append("more: --page-token ").append(r.getNextPageToken());
                }
                return s.toString().stripTrailing();
            });
        }
    }

    @Command(name = "models", mixinStandardHelpOptions = true, description = "Models served now: list.",
            subcommands = {ModelsCmd.List.class})
    static final class ModelsCmd {
        @Command(name = "list", mixinStandardHelpOptions = true, description = "Models on healthy nodes, with prices.")
        static final class List extends CtlCommand {
            @Override
            public Integer call() {
                return call(c -> io.diem.v1.InferenceGrpc.newBlockingStub(c).listModels(io.diem.v1.ListModelsRequest.getDefaultInstance()),
                        (io.diem.v1.ListModelsResponse r) -> String.join("\n", r.getModelsList().stream()
                                .map(m -> String.format("%s  context %d  nodes %d  %s", m.getName(), m.getContextLength(), m.getNodes(),
                                        describe(m.getPrice()).substring(m.getName().length()).strip())).toList()));
            }
        }
    }
}
