package io.diem.gateway.cli;

import static io.diem.gateway.cli.CtlOutput.admin;
import static io.diem.gateway.cli.CtlOutput.describe;

import io.diem.gateway.ledger.Units;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code diemctl} commands for settlement epochs and payout proofs. */
final class EpochCommands {

    private EpochCommands() {}

    @Command(name = "epoch", mixinStandardHelpOptions = true, description = "Close and list settlement epochs (UTC days, admin).",
            subcommands = {EpochCmd.Close.class, EpochCmd.List.class})
    static final class EpochCmd {
        @Command(name = "close", mixinStandardHelpOptions = true, description = "Close an ended epoch (idempotent).")
        static final class Close extends CtlCommand {
            @picocli.CommandLine.Parameters(paramLabel = "EPOCH", arity = "0..1", description = "YYYY-MM-DD; default: yesterday, UTC.")
            String epoch;
            @Option(names = "--epoch", hidden = true, description = "Same as EPOCH (older form).") String epochOption;

            @Override
            public Integer call() {
                String day = positionalOrOption(epoch, epochOption, "the epoch");
                return call(c -> admin(c).closeEpoch(io.diem.v1.CloseEpochRequest.newBuilder().setEpoch(day).build()),
                        SettlementCmd::describe);
            }
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "Closed epochs, newest first.")
        static final class List extends CtlCommand {
            @Override
            public Integer call() {
                return call(c -> admin(c).listEpochs(io.diem.v1.ListEpochsRequest.getDefaultInstance()),
                        (io.diem.v1.ListEpochsResponse r) -> String.join("\n", r.getEpochsList().stream()
                                .map(e -> String.format("%s  fees $%s  providers $%s  stakers $%s  utilization %.2f%%", e.getEpoch(),
                                        Units.format(e.getFeesMicroUsd()), Units.format(e.getProviderPayoutMicroUsd()),
                                        Units.format(e.getStakerPayoutMicroUsd()), e.getUtilizationPpm() / 1e4)).toList()));
            }
        }
    }
    @Command(name = "settlement", mixinStandardHelpOptions = true, description = "Settlement reports and payout proofs (admin).",
            subcommands = {SettlementCmd.Show.class, SettlementCmd.Proof.class})
    static final class SettlementCmd {
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
        static final class Show extends CtlCommand {
            @picocli.CommandLine.Parameters(paramLabel = "EPOCH", arity = "0..1", description = "The epoch: a UTC day, YYYY-MM-DD.")
            String epoch;
            @Option(names = "--epoch", hidden = true, description = "Same as EPOCH (older form).") String epochOption;

            @Override
            public Integer call() {
                String day = required(positionalOrOption(epoch, epochOption, "the epoch"), "settlement show EPOCH (YYYY-MM-DD)");
                return call(c -> admin(c).getSettlement(io.diem.v1.EpochRequest.newBuilder().setEpoch(day).build()),
                        SettlementCmd::describe);
            }
        }

        @Command(name = "proof", mixinStandardHelpOptions = true, description = "A recipient's Merkle proof, checked against the root here.")
        static final class Proof extends CtlCommand {
            @picocli.CommandLine.Parameters(paramLabel = "EPOCH", arity = "0..1", description = "The epoch: a UTC day, YYYY-MM-DD.")
            String epoch;
            @Option(names = "--epoch", hidden = true, description = "Same as EPOCH (older form).") String epochOption;
            @Option(names = "--recipient", required = true, description = "Payout recipient as the report lists it: a node id (provider share) or a staker's account id.") String recipient;

            @Override
            public Integer call() {
                String day = required(positionalOrOption(epoch, epochOption, "the epoch"), "settlement proof EPOCH --recipient R");
                return call(c -> admin(c).getPayoutProof(io.diem.v1.PayoutProofRequest.newBuilder().setEpoch(day)
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
