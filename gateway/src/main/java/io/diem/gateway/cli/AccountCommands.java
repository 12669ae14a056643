package io.diem.gateway.cli;

import static io.diem.gateway.cli.CtlOutput.admin;
import static io.diem.gateway.cli.CtlOutput.instant;
import static io.diem.gateway.cli.CtlOutput.staking;

import io.diem.gateway.ledger.Units;
import io.diem.v1.Account;
import io.diem.v1.AccountRequest;
import io.diem.v1.CreateAccountRequest;
import io.diem.v1.ListAccountsRequest;
import io.diem.v1.ListAccountsResponse;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code diemctl} commands for accounts and their credit. */
final class AccountCommands {

    private AccountCommands() {}

    @Command(name = "account", mixinStandardHelpOptions = true, description = "Create, show and list accounts.",
            subcommands = {AccountCmd.Create.class, AccountCmd.Show.class, AccountCmd.List.class})
    static final class AccountCmd {
        @Command(name = "create", mixinStandardHelpOptions = true, description = "Create an account (admin).")
        static final class Create extends CtlCommand {
            @Parameters(paramLabel = "NAME", description = "A name for the account (shown in lists; need not be unique).") String name;

            @Override
            public Integer call() {
                return call(c -> admin(c).createAccount(CreateAccountRequest.newBuilder().setName(name).build()),
                        a -> "created account " + a.getAccountId() + " (" + a.getName() + ")");
            }
        }

        @Command(name = "show", mixinStandardHelpOptions = true, description = "Balances and today's credit of an account.")
        static final class Show extends CtlCommand {
            @Parameters(paramLabel = "ACCOUNT", arity = "0..1", description = "Account id; default: the key's own.") String account;
            @Option(names = "--account", hidden = true, description = "Same as ACCOUNT (older form).") String accountOption;

            @Override
            public Integer call() {
                String id = positionalOrOption(account, accountOption, "the account");
                return call(c -> staking(c).getAccount(AccountRequest.newBuilder().setAccountId(id).build()),
                        CtlOutput::describe);
            }
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "List accounts (admin).")
        static final class List extends CtlCommand {
            @Option(names = "--page-size", defaultValue = "100", description = "Accounts per page, 1..1000. Default: ${DEFAULT-VALUE}.") int pageSize;
            @Option(names = "--page-token", defaultValue = "", description = "The next-page token a previous page printed; empty for the first page.") String pageToken;

            @Override
            public Integer call() {
                return call(c -> admin(c).listAccounts(ListAccountsRequest.newBuilder().setPageSize(pageSize)
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
    @Command(name = "balance", mixinStandardHelpOptions = true, description = "Today's inference credit of an account.")
    static final class BalanceCmd extends CtlCommand {
        @Parameters(paramLabel = "ACCOUNT", arity = "0..1", description = "Account id (admin keys); default: the key's own account.")
        String account;
        @Option(names = "--account", hidden = true, description = "Same as ACCOUNT (older form).") String accountOption;

        @Override
        public Integer call() {
            String id = positionalOrOption(account, accountOption, "the account");
            return call(c -> staking(c).getAccount(AccountRequest.newBuilder().setAccountId(id).build()).getBalance(),
                    b -> String.format("%s: $%s of $%s remaining today (spent $%s, reserved $%s); resets %s", b.getAccountId(),
                            Units.format(b.getRemainingMicroUsd()), Units.format(b.getAllowanceMicroUsd()),
                            Units.format(b.getSpentMicroUsd()), Units.format(b.getReservedMicroUsd()), instant(b.getResetsAt())));
        }
    }
}
