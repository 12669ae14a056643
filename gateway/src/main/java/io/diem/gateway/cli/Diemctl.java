package io.diem.gateway.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import io.diem.gateway.ledger.Units;
import io.diem.v1.Account;
import io.diem.v1.AccountRequest;
import io.diem.v1.AdminGrpc;
import io.diem.v1.AmountRequest;
import io.diem.v1.ApiKeyInfo;
import io.diem.v1.CreateAccountRequest;
import io.diem.v1.CreateApiKeyRequest;
import io.diem.v1.CreatedApiKey;
import io.diem.v1.KeyScope;
import io.diem.v1.ListAccountsRequest;
import io.diem.v1.ListAccountsResponse;
import io.diem.v1.ListApiKeysRequest;
import io.diem.v1.ListApiKeysResponse;
import io.diem.v1.ListModelPricesRequest;
import io.diem.v1.ListModelPricesResponse;
import io.diem.v1.MintDiemRequest;
import io.diem.v1.MintQuote;
import io.diem.v1.MintResult;
import io.diem.v1.ModelPrice;
import io.diem.v1.QuoteMintRequest;
import io.diem.v1.RevokeApiKeyRequest;
import io.diem.v1.StakingGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ForwardingClientCall;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * {@code diemctl}: the operator and client command line of a gateway. Amounts on the command line are
 * whole tokens or dollars with up to 6 decimals; the API carries micro-units. With {@code --json}
 * every command prints exactly one JSON object (the response message, or {@code {"error": …}}).
 */
@Command(name = "diemctl", mixinStandardHelpOptions = true,
        description = "Use and operate a diem-compute gateway: generate, accounts, keys, staking, prices, nodes, epochs.",
        subcommands = {Diemctl.AccountCmd.class, Diemctl.KeyCmd.class, Diemctl.DepositCmd.class, Diemctl.StakeCmd.class,
            Diemctl.UnstakeCmd.class, Diemctl.WithdrawCmd.class, Diemctl.MintCmd.class, Diemctl.BurnCmd.class,
            Diemctl.BalanceCmd.class, Diemctl.PriceCmd.class, Diemctl.GenerateCmd.class, Diemctl.NodeCmd.class,
            Diemctl.ModelsCmd.class, Diemctl.EpochCmd.class, Diemctl.SettlementCmd.class, CommandLine.HelpCommand.class})
public final class Diemctl {

    @Option(names = "--gateway", scope = ScopeType.INHERIT, defaultValue = "${env:DIEM_GATEWAY:-127.0.0.1:7070}",
            description = "Gateway HOST:PORT (env DIEM_GATEWAY). Default: ${DEFAULT-VALUE}.")
    String gateway;

    @Option(names = "--key", scope = ScopeType.INHERIT, defaultValue = "${env:DIEM_KEY}",
            description = "API key (env DIEM_KEY).")
    String key;

    @Option(names = "--json", scope = ScopeType.INHERIT, description = "Print one JSON object.")
    boolean json;

    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Diemctl());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            Diemctl root = cmd.getCommandSpec().root().commandLine().getCommand();
            PrintWriter out = cmd.getOut();
            PrintWriter err = cmd.getErr();
            String code;
            String message;
            if (e instanceof StatusRuntimeException s) {
                code = s.getStatus().getCode().name();
                message = s.getStatus().getDescription() != null ? s.getStatus().getDescription() : s.getStatus().getCode().name();
            } else if (e instanceof IllegalArgumentException) {
                code = "INVALID_ARGUMENT";
                message = e.getMessage();
            } else {
                code = "ERROR";
                message = e.getMessage() != null ? e.getMessage() : e.toString();
            }
            if (root.json) {
                com.google.gson.JsonObject error = new com.google.gson.JsonObject();
                error.addProperty("code", code);
                error.addProperty("message", message);
                com.google.gson.JsonObject wrapper = new com.google.gson.JsonObject();
                wrapper.add("error", error);
                out.println(wrapper);
                out.flush();
            } else {
                err.println("error: " + code + ": " + message);
                err.flush();
            }
            return code.equals("INVALID_ARGUMENT") ? 2 : 1;
        });
        return cli;
    }

    // ------------------------------------------------------------------ plumbing

    /** Opens a channel, runs {@code call}, prints the answer, closes the channel. */
    <T extends MessageOrBuilder> int call(Function<Channel, T> call, Function<T, String> human) {
        return call(call, human, null);
    }

    /** As above; {@code streamedText}, when given, is added to the JSON output as "text". */
    <T extends MessageOrBuilder> int call(Function<Channel, T> call, Function<T, String> human, StringBuilder streamedText) {
        if (key == null || key.isBlank()) {
            throw new IllegalArgumentException("no API key: pass --key or set DIEM_KEY");
        }
        ManagedChannel channel = Grpc.newChannelBuilder(gateway, InsecureChannelCredentials.create()).build();
        try {
            Channel authed = ClientInterceptors.intercept(channel, bearer(key.strip()));
            T response = call.apply(authed);
            PrintWriter out = spec.commandLine().getOut();
            if (json && streamedText != null) {
                com.google.gson.JsonObject o = com.google.gson.JsonParser.parseString(json(response)).getAsJsonObject();
                o.addProperty("text", streamedText.toString());
                out.println(o);
            } else {
                out.println(json ? json(response) : human.apply(response));
            }
            out.flush();
            return 0;
        } finally {
            channel.shutdownNow();
            try {
                channel.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Adds {@code authorization: Bearer <secret>} and a 30 s deadline to every call. */
    public static ClientInterceptor bearer(String secret) {
        Metadata.Key<String> authorization = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
        return new ClientInterceptor() {
            @Override
            public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
                return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method,
                        options.withDeadlineAfter(30, TimeUnit.SECONDS))) {
                    @Override
                    public void start(Listener<R> listener, Metadata headers) {
                        headers.put(authorization, "Bearer " + secret);
                        super.start(listener, headers);
                    }
                };
            }
        };
    }

    static String json(MessageOrBuilder message) {
        try {
            return JsonFormat.printer().omittingInsignificantWhitespace().print(message);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    static StakingGrpc.StakingBlockingStub staking(Channel c) {
        return StakingGrpc.newBlockingStub(c);
    }

    static AdminGrpc.AdminBlockingStub admin(Channel c) {
        return AdminGrpc.newBlockingStub(c);
    }

    static String describe(Account a) {
        var b = a.getBalance();
        StringBuilder s = new StringBuilder();
        s.append(String.format("account %s (%s)%n", a.getAccountId(), a.getName()));
        s.append(String.format("  VVV      liquid %s, staked %s (locked %s), unstaking %s%s%n", Units.format(a.getVvvMicro()),
                Units.format(a.getSvvvMicro() + a.getSvvvLockedMicro()), Units.format(a.getSvvvLockedMicro()),
                Units.format(a.getVvvUnstakingMicro()),
                a.hasVvvUnstakingUntil() ? " until " + instant(a.getVvvUnstakingUntil()) : ""));
        s.append(String.format("  DIEM     liquid %s, staked %s, unstaking %s%s, minted %s%n", Units.format(a.getDiemMicro()),
                Units.format(a.getDiemStakedMicro()), Units.format(a.getDiemUnstakingMicro()),
                a.hasDiemUnstakingUntil() ? " until " + instant(a.getDiemUnstakingUntil()) : "",
                Units.format(a.getDiemMintedMicro())));
        s.append(String.format("  credit   $%s today: spent $%s, reserved $%s, remaining $%s (resets %s)",
                Units.format(b.getAllowanceMicroUsd()), Units.format(b.getSpentMicroUsd()), Units.format(b.getReservedMicroUsd()),
                Units.format(b.getRemainingMicroUsd()), instant(b.getResetsAt())));
        return s.toString();
    }

    static String instant(com.google.protobuf.Timestamp t) {
        return java.time.Instant.ofEpochSecond(t.getSeconds(), t.getNanos()).toString();
    }

    static String describe(ApiKeyInfo k) {
        return String.format("%s  account %s  scope %s  daily limit %s  %s%s", k.getKeyId(), k.getAccountId(),
                k.getScope() == KeyScope.KEY_SCOPE_ADMIN ? "admin" : "inference",
                k.getDailyLimitMicroUsd() == 0 ? "none" : "$" + Units.format(k.getDailyLimitMicroUsd()),
                k.getLabel().isEmpty() ? "" : "'" + k.getLabel() + "'", k.hasRevokedAt() ? "  REVOKED " + instant(k.getRevokedAt()) : "");
    }

    static String describe(MintQuote q) {
        return String.format("mint %s DIEM: %s sVVV locked (average %s sVVV/DIEM, marginal after %s); supply %s -> %s",
                Units.format(q.getDiemMicro()), Units.format(q.getSvvvCostMicro()), Units.format(q.getAverageRateMicro()),
                Units.format(q.getMarginalRateAfterMicro()), Units.format(q.getSupplyBeforeMicro()),
                Units.format(q.getSupplyAfterMicro()));
    }

    static String describe(ModelPrice p) {
        return String.format("%s  prompt $%s/1M tokens  completion $%s/1M tokens  $%s/GPU-second", p.getModel(),
                Units.format(p.getPromptMicroUsdPerMillion()), Units.format(p.getCompletionMicroUsdPerMillion()),
                Units.format(p.getMicroUsdPerGpuSecond()));
    }

    /** Shared by subcommands: the root's connection and output. */
    abstract static class Sub implements Callable<Integer> {
        @ParentCommand
        Object parent;

        Diemctl root() {
            Object p = parent;
            while (!(p instanceof Diemctl)) {
                p = ((Sub) p).parent;
            }
            return (Diemctl) p;
        }
    }

    // ------------------------------------------------------------------ commands

    @Command(name = "account", mixinStandardHelpOptions = true, description = "Create, show and list accounts.",
            subcommands = {AccountCmd.Create.class, AccountCmd.Show.class, AccountCmd.List.class})
    static final class AccountCmd extends Sub {
        @Override
        public Integer call() {
            throw new CommandLine.ParameterException(new CommandLine(this), "choose a subcommand: create, show, list");
        }

        @Command(name = "create", mixinStandardHelpOptions = true, description = "Create an account (admin).")
        static final class Create extends Sub {
            @Parameters(paramLabel = "NAME") String name;

            @Override
            public Integer call() {
                return root().call(c -> admin(c).createAccount(CreateAccountRequest.newBuilder().setName(name).build()),
                        a -> "created account " + a.getAccountId() + " (" + a.getName() + ")");
            }
        }

        @Command(name = "show", mixinStandardHelpOptions = true, description = "Balances and today's credit of an account.")
        static final class Show extends Sub {
            @Option(names = "--account", description = "Account id (default: the key's own).") String account = "";

            @Override
            public Integer call() {
                return root().call(c -> staking(c).getAccount(AccountRequest.newBuilder().setAccountId(account).build()),
                        Diemctl::describe);
            }
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "List accounts (admin).")
        static final class List extends Sub {
            @Option(names = "--page-size", defaultValue = "100") int pageSize;
            @Option(names = "--page-token", defaultValue = "") String pageToken;

            @Override
            public Integer call() {
                return root().call(c -> admin(c).listAccounts(ListAccountsRequest.newBuilder().setPageSize(pageSize)
                        .setPageToken(pageToken).build()), (ListAccountsResponse r) -> {
                            StringBuilder s = new StringBuilder();
                            r.getAccountsList().forEach(a -> s.append(a.getAccountId()).append("  ").append(a.getName())
                                    .append("  staked DIEM ").append(Units.format(a.getDiemStakedMicro())).append('\n'));
                            if (!r.getNextPageToken().isEmpty()) {
                                s.append("more: --page-token ").append(r.getNextPageToken()).append('\n');
                            }
                            return s.toString().stripTrailing();
                        });
            }
        }
    }

    @Command(name = "key", mixinStandardHelpOptions = true, description = "Create, list and revoke API keys (admin).",
            subcommands = {KeyCmd.Create.class, KeyCmd.List.class, KeyCmd.Revoke.class})
    static final class KeyCmd extends Sub {
        @Override
        public Integer call() {
            throw new CommandLine.ParameterException(new CommandLine(this), "choose a subcommand: create, list, revoke");
        }

        @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a key; its secret is shown once.")
        static final class Create extends Sub {
            @Option(names = "--account", required = true) String account;
            @Option(names = "--scope", defaultValue = "inference", description = "inference or admin. Default: ${DEFAULT-VALUE}.")
            String scope;
            @Option(names = "--daily-limit", description = "Spending cap per UTC day in USD (default: none).") String dailyLimit;
            @Option(names = "--label", defaultValue = "") String label;

            @Override
            public Integer call() {
                KeyScope s = switch (scope.toLowerCase(Locale.ROOT)) {
                    case "inference" -> KeyScope.KEY_SCOPE_INFERENCE;
                    case "admin" -> KeyScope.KEY_SCOPE_ADMIN;
                    default -> throw new IllegalArgumentException("--scope must be inference or admin, got '" + scope + "'");
                };
                long limit = dailyLimit == null ? 0 : Units.parseMicro(dailyLimit);
                return root().call(c -> admin(c).createApiKey(CreateApiKeyRequest.newBuilder().setAccountId(account).setScope(s)
                                .setDailyLimitMicroUsd(limit).setLabel(label).build()),
                        (CreatedApiKey k) -> describe(k.getInfo()) + "\nsecret (shown once, store it now): " + k.getSecret());
            }
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "List keys (never their secrets).")
        static final class List extends Sub {
            @Option(names = "--account", defaultValue = "") String account;

            @Override
            public Integer call() {
                return root().call(c -> admin(c).listApiKeys(ListApiKeysRequest.newBuilder().setAccountId(account).build()),
                        (ListApiKeysResponse r) -> String.join("\n", r.getKeysList().stream().map(Diemctl::describe).toList()));
            }
        }

        @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Revoke a key at once.")
        static final class Revoke extends Sub {
            @Parameters(paramLabel = "KEY_ID") String keyId;

            @Override
            public Integer call() {
                return root().call(c -> admin(c).revokeApiKey(RevokeApiKeyRequest.newBuilder().setKeyId(keyId).build()),
                        k -> "revoked " + describe(k));
            }
        }
    }

    enum Token { vvv, diem }

    @Command(name = "deposit", mixinStandardHelpOptions = true, description = "Credit liquid VVV to an account (admin): deposit vvv --account ID AMOUNT.")
    static final class DepositCmd extends Sub {
        @Parameters(index = "0", paramLabel = "vvv") Token token;
        @Parameters(index = "1", paramLabel = "AMOUNT", description = "Whole VVV, decimals allowed.") String amount;
        @Option(names = "--account", required = true) String account;

        @Override
        public Integer call() {
            if (token != Token.vvv) {
                throw new IllegalArgumentException("only VVV can be deposited; DIEM is minted");
            }
            long micro = Units.parseMicro(amount);
            return root().call(c -> admin(c).depositVvv(AmountRequest.newBuilder().setAccountId(account).setAmountMicro(micro).build()),
                    Diemctl::describe);
        }
    }

    @Command(name = "stake", mixinStandardHelpOptions = true, description = "Stake VVV (gives sVVV) or DIEM (gives daily credit).")
    static final class StakeCmd extends Sub {
        @Parameters(index = "0", paramLabel = "vvv|diem") Token token;
        @Parameters(index = "1", paramLabel = "AMOUNT", description = "Whole tokens, decimals allowed.") String amount;
        @Option(names = "--account", defaultValue = "") String account;

        @Override
        public Integer call() {
            AmountRequest r = AmountRequest.newBuilder().setAccountId(account).setAmountMicro(Units.parseMicro(amount)).build();
            return root().call(c -> token == Token.vvv ? staking(c).stakeVvv(r) : staking(c).stakeDiem(r), Diemctl::describe);
        }
    }

    @Command(name = "unstake", mixinStandardHelpOptions = true,
            description = "Unstake VVV (withdrawable after the cooldown) or DIEM (credit stops now, tokens return after the cooldown).")
    static final class UnstakeCmd extends Sub {
        @Parameters(index = "0", paramLabel = "vvv|diem") Token token;
        @Parameters(index = "1", paramLabel = "AMOUNT") String amount;
        @Option(names = "--account", defaultValue = "") String account;

        @Override
        public Integer call() {
            AmountRequest r = AmountRequest.newBuilder().setAccountId(account).setAmountMicro(Units.parseMicro(amount)).build();
            return root().call(c -> token == Token.vvv ? staking(c).unstakeVvv(r) : staking(c).unstakeDiem(r), Diemctl::describe);
        }
    }

    @Command(name = "withdraw", mixinStandardHelpOptions = true, description = "Withdraw VVV whose cooldown has ended: withdraw vvv.")
    static final class WithdrawCmd extends Sub {
        @Parameters(index = "0", paramLabel = "vvv") Token token;
        @Option(names = "--account", defaultValue = "") String account;

        @Override
        public Integer call() {
            if (token != Token.vvv) {
                throw new IllegalArgumentException("only VVV is withdrawn; unstaked DIEM returns by itself after its cooldown");
            }
            return root().call(c -> staking(c).withdrawVvv(AccountRequest.newBuilder().setAccountId(account).build()),
                    Diemctl::describe);
        }
    }

    @Command(name = "mint", mixinStandardHelpOptions = true, description = "Mint DIEM by locking sVVV at the curve price.",
            subcommands = {MintCmd.Quote.class})
    static final class MintCmd extends Sub {
        @Parameters(paramLabel = "AMOUNT", arity = "0..1", description = "DIEM to mint.") String amount;
        @Option(names = "--account", defaultValue = "") String account;
        @Option(names = "--max-cost", description = "Refuse if the mint would lock more sVVV than this.") String maxCost;

        @Override
        public Integer call() {
            if (amount == null) {
                throw new IllegalArgumentException("give the DIEM AMOUNT to mint (or: mint quote AMOUNT)");
            }
            long max = maxCost == null ? 0 : Units.parseMicro(maxCost);
            MintDiemRequest r = MintDiemRequest.newBuilder().setAccountId(account).setDiemMicro(Units.parseMicro(amount))
                    .setMaxSvvvCostMicro(max).build();
            return root().call(c -> staking(c).mintDiem(r),
                    (MintResult m) -> describe(m.getQuote()) + "\n" + describe(m.getAccount()));
        }

        @Command(name = "quote", mixinStandardHelpOptions = true, description = "Price a mint without doing it.")
        static final class Quote extends Sub {
            @Parameters(paramLabel = "AMOUNT") String amount;

            @Override
            public Integer call() {
                return root().call(c -> staking(c).quoteMint(QuoteMintRequest.newBuilder().setDiemMicro(Units.parseMicro(amount)).build()),
                        Diemctl::describe);
            }
        }
    }

    @Command(name = "burn", mixinStandardHelpOptions = true, description = "Burn DIEM, unlocking sVVV pro rata.")
    static final class BurnCmd extends Sub {
        @Parameters(paramLabel = "AMOUNT") String amount;
        @Option(names = "--account", defaultValue = "") String account;

        @Override
        public Integer call() {
            AmountRequest r = AmountRequest.newBuilder().setAccountId(account).setAmountMicro(Units.parseMicro(amount)).build();
            return root().call(c -> staking(c).burnDiem(r), Diemctl::describe);
        }
    }

    @Command(name = "balance", mixinStandardHelpOptions = true, description = "Today's inference credit of an account.")
    static final class BalanceCmd extends Sub {
        @Option(names = "--account", defaultValue = "") String account;

        @Override
        public Integer call() {
            return root().call(c -> staking(c).getAccount(AccountRequest.newBuilder().setAccountId(account).build()).getBalance(),
                    b -> String.format("%s: $%s of $%s remaining today (spent $%s, reserved $%s); resets %s", b.getAccountId(),
                            Units.format(b.getRemainingMicroUsd()), Units.format(b.getAllowanceMicroUsd()),
                            Units.format(b.getSpentMicroUsd()), Units.format(b.getReservedMicroUsd()), instant(b.getResetsAt())));
        }
    }

    @Command(name = "price", mixinStandardHelpOptions = true, description = "Model prices (admin).",
            subcommands = {PriceCmd.Set.class, PriceCmd.List.class})
    static final class PriceCmd extends Sub {
        @Override
        public Integer call() {
            throw new CommandLine.ParameterException(new CommandLine(this), "choose a subcommand: set, list");
        }

        @Command(name = "set", mixinStandardHelpOptions = true, description = "Set a model's prices in USD; unnamed prices keep their value (0 for a new model).")
        static final class Set extends Sub {
            @Option(names = "--model", required = true) String model;
            @Option(names = "--prompt-per-million", description = "USD per 1M prompt tokens.") String prompt;
            @Option(names = "--completion-per-million", description = "USD per 1M completion tokens.") String completion;
            @Option(names = "--per-gpu-second", description = "USD per GPU-second.") String gpu;

            @Override
            public Integer call() {
                return root().call(c -> {
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
                }, Diemctl::describe);
            }
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "List model prices.")
        static final class List extends Sub {
            @Override
            public Integer call() {
                return root().call(c -> admin(c).listModelPrices(ListModelPricesRequest.getDefaultInstance()),
                        (ListModelPricesResponse r) -> String.join("\n", r.getPricesList().stream().map(Diemctl::describe).toList()));
            }
        }
    }

    @Command(name = "generate", mixinStandardHelpOptions = true, description = "Stream a completion (app developers: the API in one command).")
    static final class GenerateCmd extends Sub {
        @Option(names = "--model", required = true) String model;
        @Option(names = "--prompt", required = true) String prompt;
        @Option(names = "--max-tokens", defaultValue = "0", description = "0 = the gateway's default.") int maxTokens;
        @Option(names = "--temperature", defaultValue = "0.7") float temperature;
        @Option(names = "--top-p", defaultValue = "0") float topP;
        @Option(names = "--top-k", defaultValue = "0") int topK;
        @Option(names = "--seed") Long seed;
        @Option(names = "--stop") java.util.List<String> stop = new java.util.ArrayList<>();

        @Override
        public Integer call() {
            Diemctl root = root();
            io.diem.v1.SamplingParams.Builder sampling = io.diem.v1.SamplingParams.newBuilder().setMaxTokens(maxTokens)
                    .setTemperature(temperature).setTopP(topP).setTopK(topK).addAllStop(stop);
            if (seed != null) {
                sampling.setSeed(seed);
            }
            io.diem.v1.GenerateRequest request = io.diem.v1.GenerateRequest.newBuilder().setModel(model).setPrompt(prompt)
                    .setSampling(sampling).build();
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

    @Command(name = "node", mixinStandardHelpOptions = true, description = "List, approve and revoke GPU nodes (admin).",
            subcommands = {NodeCmd.List.class, NodeCmd.Approve.class, NodeCmd.Revoke.class})
    static final class NodeCmd extends Sub {
        @Override
        public Integer call() {
            throw new CommandLine.ParameterException(new CommandLine(this), "choose a subcommand: list, approve, revoke");
        }

        static String describe(io.diem.v1.NodeInfo n) {
            return String.format("%s  %s  %s  models [%s]  active %d%s", n.getNodeId(),
                    n.getState().name().replace("NODE_STATE_", "").toLowerCase(Locale.ROOT), n.getEndpoint(),
                    String.join(", ", n.getModelsList()), n.getActiveJobs(),
                    n.getFlagReason().isEmpty() ? "" : "  FLAGGED: " + n.getFlagReason());
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "Nodes and their state.")
        static final class List extends Sub {
            @Override
            public Integer call() {
                return root().call(c -> admin(c).listNodes(io.diem.v1.ListNodesRequest.getDefaultInstance()),
                        (io.diem.v1.ListNodesResponse r) -> String.join("\n", r.getNodesList().stream().map(NodeCmd::describe).toList()));
            }
        }

        @Command(name = "approve", mixinStandardHelpOptions = true, description = "Let a node take jobs and be paid (clears a flag).")
        static final class Approve extends Sub {
            @Parameters(paramLabel = "NODE_ID") String nodeId;

            @Override
            public Integer call() {
                return root().call(c -> admin(c).approveNode(io.diem.v1.NodeIdRequest.newBuilder().setNodeId(nodeId).build()),
                        n -> "approved " + describe(n));
            }
        }

        @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Stop sending a node jobs and paying it.")
        static final class Revoke extends Sub {
            @Parameters(paramLabel = "NODE_ID") String nodeId;

            @Override
            public Integer call() {
                return root().call(c -> admin(c).revokeNode(io.diem.v1.NodeIdRequest.newBuilder().setNodeId(nodeId).build()),
                        n -> "revoked " + describe(n));
            }
        }
    }

    @Command(name = "models", mixinStandardHelpOptions = true, description = "Models served now: list.",
            subcommands = {ModelsCmd.List.class})
    static final class ModelsCmd extends Sub {
        @Override
        public Integer call() {
            throw new CommandLine.ParameterException(new CommandLine(this), "choose a subcommand: list");
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "Models on healthy nodes, with prices.")
        static final class List extends Sub {
            @Override
            public Integer call() {
                return root().call(c -> io.diem.v1.InferenceGrpc.newBlockingStub(c).listModels(io.diem.v1.ListModelsRequest.getDefaultInstance()),
                        (io.diem.v1.ListModelsResponse r) -> String.join("\n", r.getModelsList().stream()
                                .map(m -> String.format("%s  context %d  nodes %d  %s", m.getName(), m.getContextLength(), m.getNodes(),
                                        describe(m.getPrice()).substring(m.getName().length()).strip())).toList()));
            }
        }
    }

    @Command(name = "epoch", mixinStandardHelpOptions = true, description = "Close and list settlement epochs (UTC days, admin).",
            subcommands = {EpochCmd.Close.class, EpochCmd.List.class})
    static final class EpochCmd extends Sub {
        @Override
        public Integer call() {
            throw new CommandLine.ParameterException(new CommandLine(this), "choose a subcommand: close, list");
        }

        @Command(name = "close", mixinStandardHelpOptions = true, description = "Close an ended epoch (idempotent).")
        static final class Close extends Sub {
            @Option(names = "--epoch", defaultValue = "", description = "YYYY-MM-DD (default: yesterday, UTC).") String epoch;

            @Override
            public Integer call() {
                return root().call(c -> admin(c).closeEpoch(io.diem.v1.CloseEpochRequest.newBuilder().setEpoch(epoch).build()),
                        SettlementCmd::describe);
            }
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "Closed epochs, newest first.")
        static final class List extends Sub {
            @Override
            public Integer call() {
                return root().call(c -> admin(c).listEpochs(io.diem.v1.ListEpochsRequest.getDefaultInstance()),
                        (io.diem.v1.ListEpochsResponse r) -> String.join("\n", r.getEpochsList().stream()
                                .map(e -> String.format("%s  fees $%s  providers $%s  stakers $%s  utilization %.2f%%", e.getEpoch(),
                                        Units.format(e.getFeesMicroUsd()), Units.format(e.getProviderPayoutMicroUsd()),
                                        Units.format(e.getStakerPayoutMicroUsd()), e.getUtilizationPpm() / 1e4)).toList()));
            }
        }
    }

    @Command(name = "settlement", mixinStandardHelpOptions = true, description = "Settlement reports and payout proofs (admin).",
            subcommands = {SettlementCmd.Show.class, SettlementCmd.Proof.class})
    static final class SettlementCmd extends Sub {
        @Override
        public Integer call() {
            throw new CommandLine.ParameterException(new CommandLine(this), "choose a subcommand: show, proof");
        }

        static String describe(io.diem.v1.SettlementReport e) {
            StringBuilder s = new StringBuilder(String.format("epoch %s: fees $%s; GPU-seconds sold %.3f of %.3f offered (%.2f%%)%n"
                            + "  providers $%s, stakers $%s; average VVV staked %s; yield $%s per VVV ($%s per VVV-year)%n"
                            + "  merkle root %s", e.getEpoch(), Units.format(e.getFeesMicroUsd()), e.getGpuMicrosSold() / 1e6,
                    e.getGpuMicrosOffered() / 1e6, e.getUtilizationPpm() / 1e4, Units.format(e.getProviderPayoutMicroUsd()),
                    Units.format(e.getStakerPayoutMicroUsd()), Units.format(e.getAverageVvvStakedMicro()),
                    Units.format(e.getStakerYieldMicroUsdPerVvv()), Units.format(e.getStakerYieldAnnualisedMicroUsdPerVvv()),
                    io.diem.sign.Hashes.hex(e.getMerkleRoot().toByteArray())));
            e.getPayoutsList().forEach(p -> s.append(String.format("%n  %-8s %s  $%s",
                    p.getKind() == io.diem.v1.RecipientKind.RECIPIENT_KIND_PROVIDER ? "provider" : "staker", p.getRecipient(),
                    Units.format(p.getAmountMicroUsd()))));
            return s.toString();
        }

        @Command(name = "show", mixinStandardHelpOptions = true, description = "A closed epoch's report.")
        static final class Show extends Sub {
            @Option(names = "--epoch", required = true) String epoch;

            @Override
            public Integer call() {
                return root().call(c -> admin(c).getSettlement(io.diem.v1.EpochRequest.newBuilder().setEpoch(epoch).build()),
                        SettlementCmd::describe);
            }
        }

        @Command(name = "proof", mixinStandardHelpOptions = true, description = "A recipient's Merkle proof, checked against the root here.")
        static final class Proof extends Sub {
            @Option(names = "--epoch", required = true) String epoch;
            @Option(names = "--recipient", required = true) String recipient;

            @Override
            public Integer call() {
                return root().call(c -> admin(c).getPayoutProof(io.diem.v1.PayoutProofRequest.newBuilder().setEpoch(epoch)
                        .setRecipient(recipient).build()), (io.diem.v1.PayoutProof p) -> {
                            var payout = p.getPayout();
                            String kind = payout.getKind() == io.diem.v1.RecipientKind.RECIPIENT_KIND_PROVIDER ? "provider" : "staker";
                            byte[] leaf = io.diem.gateway.settlement.Merkle.leaf(p.getEpoch(), kind, payout.getRecipient(),
                                    payout.getAmountMicroUsd());
                            boolean ok = java.util.Arrays.equals(leaf, p.getLeaf().toByteArray()) && io.diem.gateway.settlement.Merkle.verify(
                                    leaf, p.getSiblingsList().stream().map(com.google.protobuf.ByteString::toByteArray).toList(),
                                    p.getSiblingIsLeftList(), p.getMerkleRoot().toByteArray());
                            return String.format("%s %s: $%s in epoch %s; leaf %s; %d siblings; root %s; %s", kind,
                                    payout.getRecipient(), Units.format(payout.getAmountMicroUsd()), p.getEpoch(),
                                    io.diem.sign.Hashes.hex(leaf), p.getSiblingsCount(), io.diem.sign.Hashes.hex(p.getMerkleRoot().toByteArray()),
                                    ok ? "proof verified" : "PROOF DOES NOT VERIFY");
                        });
            }
        }
    }
}
