package io.diem.gateway.cli;

import static io.diem.gateway.cli.CtlOutput.admin;
import static io.diem.gateway.cli.CtlOutput.describe;
import static io.diem.gateway.cli.CtlOutput.staking;

import io.diem.gateway.ledger.Units;
import io.diem.v1.AccountRequest;
import io.diem.v1.AmountRequest;
import io.diem.v1.MintDiemRequest;
import io.diem.v1.MintResult;
import io.diem.v1.QuoteMintRequest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code diemctl} commands for VVV and DIEM: deposit, stake, unstake, withdraw, mint, burn. */
final class StakingCommands {

    private StakingCommands() {}

    enum Token { vvv, diem }

    @Command(name = "deposit", mixinStandardHelpOptions = true, description = "Credit liquid VVV to an account (admin): deposit vvv --account ID AMOUNT.")
    static final class DepositCmd extends CtlCommand {
        @Parameters(index = "0", paramLabel = "vvv", description = "The token (only vvv).") Token token;
        @Parameters(index = "1", paramLabel = "AMOUNT", description = "Whole VVV, decimals allowed.") String amount;
        @Option(names = "--account", required = true, description = "Account credited.") String account;

        @Override
        public Integer call() {
            if (token != Token.vvv) {
                throw new IllegalArgumentException("only VVV can be deposited; DIEM is minted");
            }
            long micro = Units.parseMicro(amount);
            return call(c -> admin(c).depositVvv(AmountRequest.newBuilder().setAccountId(account).setAmountMicro(micro).build()),
                    CtlOutput::describe);
        }
    }
    @Command(name = "stake", mixinStandardHelpOptions = true, description = "Stake VVV (gives sVVV) or DIEM (gives daily credit).")
    static final class StakeCmd extends CtlCommand {
        @Parameters(index = "0", paramLabel = "vvv|diem", description = "The token: vvv or diem.") Token token;
        @Parameters(index = "1", paramLabel = "AMOUNT", description = "Whole tokens, decimals allowed.") String amount;
        @Option(names = "--account", defaultValue = "", description = "Account id (admin keys); default: the key's own account.") String account;

        @Override
        public Integer call() {
            AmountRequest r = AmountRequest.newBuilder().setAccountId(account).setAmountMicro(Units.parseMicro(amount)).build();
            return call(c -> token == Token.vvv ? staking(c).stakeVvv(r) : staking(c).stakeDiem(r), CtlOutput::describe);
        }
    }
    @Command(name = "unstake", mixinStandardHelpOptions = true,
            description = "Unstake VVV (withdrawable after the cooldown) or DIEM (credit stops now, tokens return after the cooldown).")
    static final class UnstakeCmd extends CtlCommand {
        @Parameters(index = "0", paramLabel = "vvv|diem", description = "The token: vvv or diem.") Token token;
        @Parameters(index = "1", paramLabel = "AMOUNT", description = "Amount in whole tokens, up to 6 decimals (e.g. 12.5).") String amount;
        @Option(names = "--account", defaultValue = "", description = "Account id (admin keys); default: the key's own account.") String account;

        @Override
        public Integer call() {
            AmountRequest r = AmountRequest.newBuilder().setAccountId(account).setAmountMicro(Units.parseMicro(amount)).build();
            return call(c -> token == Token.vvv ? staking(c).unstakeVvv(r) : staking(c).unstakeDiem(r), CtlOutput::describe);
        }
    }
    @Command(name = "withdraw", mixinStandardHelpOptions = true, description = "Withdraw VVV whose cooldown has ended: withdraw vvv.")
    static final class WithdrawCmd extends CtlCommand {
        @Parameters(index = "0", paramLabel = "vvv", description = "The token (only vvv).") Token token;
        @Option(names = "--account", defaultValue = "", description = "Account id (admin keys); default: the key's own account.") String account;

        @Override
        public Integer call() {
            if (token != Token.vvv) {
                throw new IllegalArgumentException("only VVV is withdrawn; unstaked DIEM returns by itself after its cooldown");
            }
            return call(c -> staking(c).withdrawVvv(AccountRequest.newBuilder().setAccountId(account).build()),
                    CtlOutput::describe);
        }
    }
    @Command(name = "mint", mixinStandardHelpOptions = true, description = "Mint DIEM by locking sVVV at the curve price.",
            subcommands = {MintCmd.Quote.class})
    static final class MintCmd extends CtlCommand {
        @Parameters(paramLabel = "AMOUNT", arity = "0..1", description = "DIEM to mint.") String amount;
        @Option(names = "--account", defaultValue = "", description = "Account id (admin keys); default: the key's own account.") String account;
        @Option(names = "--max-cost", description = "Refuse if the mint would lock more sVVV than this.") String maxCost;

        @Override
        public Integer call() {
            if (amount == null) {
                throw new IllegalArgumentException("give the DIEM AMOUNT to mint (or: mint quote AMOUNT)");
            }
            long max = maxCost == null ? 0 : Units.parseMicro(maxCost);
            MintDiemRequest r = MintDiemRequest.newBuilder().setAccountId(account).setDiemMicro(Units.parseMicro(amount))
                    .setMaxSvvvCostMicro(max).build();
            return call(c -> staking(c).mintDiem(r),
                    (MintResult m) -> describe(m.getQuote()) + "\n" + describe(m.getAccount()));
        }

        @Command(name = "quote", mixinStandardHelpOptions = true, description = "Price a mint without doing it.")
        static final class Quote extends CtlCommand {
            @Parameters(paramLabel = "AMOUNT", description = "Amount of DIEM, up to 6 decimals (e.g. 12.5).") String amount;

            @Override
            public Integer call() {
                return call(c -> staking(c).quoteMint(QuoteMintRequest.newBuilder().setDiemMicro(Units.parseMicro(amount)).build()),
                        CtlOutput::describe);
            }
        }
    }
    @Command(name = "burn", mixinStandardHelpOptions = true, description = "Burn DIEM, unlocking sVVV pro rata.")
    static final class BurnCmd extends CtlCommand {
        @Parameters(paramLabel = "AMOUNT", description = "Amount of DIEM, up to 6 decimals (e.g. 12.5).") String amount;
        @Option(names = "--account", defaultValue = "", description = "Account id (admin keys); default: the key's own account.") String account;

        @Override
        public Integer call() {
            AmountRequest r = AmountRequest.newBuilder().setAccountId(account).setAmountMicro(Units.parseMicro(amount)).build();
            return call(c -> staking(c).burnDiem(r), CtlOutput::describe);
        }
    }
}
