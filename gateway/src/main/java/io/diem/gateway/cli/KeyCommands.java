package io.diem.gateway.cli;

import static io.diem.gateway.cli.CtlOutput.admin;
import static io.diem.gateway.cli.CtlOutput.describe;

import io.diem.gateway.ledger.Units;
import io.diem.v1.CreateApiKeyRequest;
import io.diem.v1.CreatedApiKey;
import io.diem.v1.KeyScope;
import io.diem.v1.ListApiKeysRequest;
import io.diem.v1.ListApiKeysResponse;
import io.diem.v1.RevokeApiKeyRequest;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code diemctl} commands for API keys. */
final class KeyCommands {

    private KeyCommands() {}

    @Command(name = "key", mixinStandardHelpOptions = true, description = "Create, list and revoke API keys (admin).",
            subcommands = {KeyCmd.Create.class, KeyCmd.List.class, KeyCmd.Revoke.class})
    static final class KeyCmd {
        @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a key; its secret is shown once.")
        static final class Create extends CtlCommand {
            @Option(names = "--account", required = true, description = "Account the key spends from.") String account;
            @Option(names = "--scope", defaultValue = "inference", description = "inference or admin. Default: ${DEFAULT-VALUE}.")
            String scope;
            @Option(names = "--daily-limit", description = "Spending cap per UTC day in USD (default: none).") String dailyLimit;
            @Option(names = "--label", defaultValue = "", description = "A note to tell keys apart (shown in key list).") String label;

            @Override
            public Integer call() {
                KeyScope s = switch (scope.toLowerCase(Locale.ROOT)) {
                    case "inference" -> KeyScope.KEY_SCOPE_INFERENCE;
                    case "admin" -> KeyScope.KEY_SCOPE_ADMIN;
                    default -> throw new IllegalArgumentException("--scope must be inference or admin, got '" + scope + "'");
                };
                long limit = dailyLimit == null ? 0 : Units.parseMicro(dailyLimit);
                return call(c -> admin(c).createApiKey(CreateApiKeyRequest.newBuilder().setAccountId(account).setScope(s)
                                .setDailyLimitMicroUsd(limit).setLabel(label).build()),
                        (CreatedApiKey k) -> describe(k.getInfo()) + "\nsecret (shown once, store it now): " + k.getSecret());
            }
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "List keys (never their secrets).")
        static final class List extends CtlCommand {
            @Option(names = "--account", defaultValue = "", description = "Only this account's keys; default: every account (admin).") String account;

            @Override
            public Integer call() {
                return call(c -> admin(c).listApiKeys(ListApiKeysRequest.newBuilder().setAccountId(account).build()),
                        (ListApiKeysResponse r) -> String.join("\n", r.getKeysList().stream().map(CtlOutput::describe).toList()));
            }
        }

        @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Revoke a key at once.")
        static final class Revoke extends CtlCommand {
            @Parameters(paramLabel = "KEY_ID", description = "The key to revoke (its id from key list, not its secret).") String keyId;

            @Override
            public Integer call() {
                return call(c -> admin(c).revokeApiKey(RevokeApiKeyRequest.newBuilder().setKeyId(keyId).build()),
                        k -> "revoked " + describe(k));
            }
        }
    }
}
