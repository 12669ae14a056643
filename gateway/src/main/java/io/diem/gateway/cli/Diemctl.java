package io.diem.gateway.cli;

import com.google.protobuf.MessageOrBuilder;
import io.diem.common.Tls;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.io.Console;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/**
 * {@code diemctl}: the operator and client command line of a gateway. Amounts on the command line are
 * whole tokens or dollars with up to 6 decimals; the API carries micro-units. With {@code --json}
 * every command prints exactly one JSON object (the response message, or {@code {"error": …}}).
 */
@Command(name = "diemctl", mixinStandardHelpOptions = true,
        description = "Use and operate a diem-compute gateway: generate, accounts, keys, staking, prices, nodes, epochs.",
        subcommands = {AccountCommands.AccountCmd.class, KeyCommands.KeyCmd.class, StakingCommands.DepositCmd.class,
            StakingCommands.StakeCmd.class, StakingCommands.UnstakeCmd.class, StakingCommands.WithdrawCmd.class,
            StakingCommands.MintCmd.class, StakingCommands.BurnCmd.class, AccountCommands.BalanceCmd.class,
            PriceCommands.PriceCmd.class, InferenceCommands.GenerateCmd.class, InferenceCommands.UsageCmd.class, NodeCommands.NodeCmd.class,
            InferenceCommands.ModelsCmd.class, EpochCommands.EpochCmd.class, EpochCommands.SettlementCmd.class,
            picocli.AutoComplete.GenerateCompletion.class, CommandLine.HelpCommand.class})
public final class Diemctl {

    @Option(names = "--gateway", scope = ScopeType.INHERIT, defaultValue = "${env:DIEM_GATEWAY:-127.0.0.1:7070}",
            description = "Gateway HOST:PORT (env DIEM_GATEWAY). Default: ${DEFAULT-VALUE}.")
    String gateway;

    @Option(names = "--key", scope = ScopeType.INHERIT,
            description = "API key. Every user of the machine can read it in the process list: prefer DIEM_KEY or --key-file.")
    String key;

    @Option(names = "--key-file", scope = ScopeType.INHERIT, paramLabel = "FILE",
            description = "File holding the API key (for example the gateway's admin.key).")
    Path keyFile;

    /** Where DIEM_KEY is read from; tests give their own. */
    Map<String, String> env = System.getenv();

    @Option(names = "--ca", scope = ScopeType.INHERIT, paramLabel = "PEM", defaultValue = "${env:DIEM_CA}",
            description = "CA that signed the gateway's certificate (env DIEM_CA; default: the system trust store).")
    Path ca;

    @Option(names = "--insecure", scope = ScopeType.INHERIT,
            description = "Plaintext instead of TLS (loopback gateways only, for tests).")
    boolean insecure;

    @Option(names = "--json", scope = ScopeType.INHERIT, description = "Print one JSON object.")
    boolean json;

    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    public static CommandLine commandLine() {
        return commandLine(System.getenv());
    }

    /** The command line reading DIEM_KEY from {@code env}. */
    public static CommandLine commandLine(Map<String, String> env) {
        Diemctl diemctl = new Diemctl();
        diemctl.env = env;
        CommandLine cli = new CommandLine(diemctl);
        new io.diem.common.ProgramVersion("diemctl", Diemctl.class).applyTo(cli);
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            Diemctl root = cmd.getCommandSpec().root().commandLine().getCommand();
            PrintWriter out = cmd.getOut();
            PrintWriter err = cmd.getErr();
            String code;
            String message;
            if (e instanceof StatusRuntimeException s) {
                code = s.getStatus().getCode().name();
                message = s.getStatus().getDescription() != null ? s.getStatus().getDescription() : s.getStatus().getCode().name();
                String transport = transportProblem(s, root.gateway);
                if (transport != null) {
                    message = transport;
                }
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

    /** What went wrong below gRPC when a call could not reach the gateway, in words a person can act on; null otherwise. */
    static String transportProblem(StatusRuntimeException e, String gateway) {
        if (e.getStatus().getCode() != io.grpc.Status.Code.UNAVAILABLE) {
            return null;
        }
        return io.diem.common.ConnectProblems.describe(e.getCause(), "the gateway at " + gateway,
                "pass --ca FILE (or set DIEM_CA)", "--insecure", "--gateway (or DIEM_GATEWAY)");
    }

    /**
     * The API key, from (in order) {@code --key} (with a warning), {@code --key-file}, {@code DIEM_KEY},
     * or a prompt that does not echo when a terminal is attached.
     */
    String apiKey() {
        if (key != null && !key.isBlank()) {
            spec.commandLine().getErr().println("warning: --key shows the key to every user in the process list; "
                    + "use DIEM_KEY or --key-file FILE instead");
            spec.commandLine().getErr().flush();
            return key.strip();
        }
        if (keyFile != null) {
            try {
                String fromFile = Files.readString(keyFile, StandardCharsets.UTF_8).strip();
                if (fromFile.isEmpty()) {
                    throw new IllegalArgumentException("--key-file " + keyFile + " is empty");
                }
                return fromFile;
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read --key-file " + keyFile + ": " + e.getMessage());
            }
        }
        String fromEnv = env.get("DIEM_KEY");
        if (fromEnv != null && !fromEnv.isBlank()) {
            return fromEnv.strip();
        }
        Console console = System.console();
        if (console != null) {
            char[] typed = console.readPassword("API key: ");
            if (typed != null && typed.length > 0) {
                return new String(typed).strip();
            }
        }
        throw new IllegalArgumentException("no API key: set DIEM_KEY, pass --key-file FILE, or run in a terminal to be asked");
    }

    /**
     * Opens a channel, runs {@code call}, prints the answer (one JSON object with --json), closes the
     * channel; {@code streamedText}, when given, is added to the JSON output as "text".
     */
    <T extends MessageOrBuilder> int call(Function<Channel, T> call, Function<T, String> human, StringBuilder streamedText) {
        String secret = apiKey();
        ChannelCredentials credentials;
        try {
            credentials = Tls.channelCredentials(gateway, ca, insecure);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the CA file " + ca + ": " + e.getMessage());
        }
        ManagedChannel channel = Grpc.newChannelBuilder(gateway, credentials).build();
        try {
            Channel authed = ClientInterceptors.intercept(channel, CtlOutput.bearer(secret));
            T response = call.apply(authed);
            PrintWriter out = spec.commandLine().getOut();
            if (json && streamedText != null) {
                com.google.gson.JsonObject o = com.google.gson.JsonParser.parseString(CtlOutput.json(response)).getAsJsonObject();
                o.addProperty("text", streamedText.toString());
                out.println(o);
            } else {
                out.println(json ? CtlOutput.json(response) : human.apply(response));
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
}
