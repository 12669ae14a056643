package io.diem.gateway.settlement;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.diem.gateway.ledger.EpochReport.Payout;
import io.diem.gateway.ledger.EpochReport.Recipient;
import io.diem.gateway.ledger.EpochReport;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerConfig;
import io.diem.gateway.ledger.LedgerViews.UsageRecord;
import io.diem.gateway.ledger.MutableClock;
import io.diem.gateway.store.Db;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An epoch's numbers against expectations computed by hand. */
class SettlementTest {

    @TempDir
    Path dir;
    Db db;
    Ledger ledger;
    final MutableClock clock = new MutableClock(Instant.parse("2026-11-25T00:00:00Z"));

    @BeforeEach
    void open() {
        db = Db.open(Db.h2Url(dir), 4);
        ledger = new Ledger(db, LedgerConfig.defaults(), clock);
    }

    @AfterEach
    void close() {
        db.close();
    }

    private void charge(String account, String job, String node, long cost, boolean paid) {
        ledger.reserve(job, account, null, cost);
        ledger.post(job, new UsageRecord(job, null, null, "tiny", node, 10, 10, 2_000_000, "gpu", cost, "length", null), paid);
    }

    @Test
    void feesSplitBetweenProvidersAndTimeWeightedStakers() {
        // Stakers: alice stakes 1,000 VVV all day; bob stakes 3,000 VVV at 12:00.
        String alice = ledger.createAccount("alice").accountId();
        String bob = ledger.createAccount("bob").accountId();
        String payer = ledger.createAccount("payer").accountId();
        ledger.depositVvv(alice, 1_000_000_000L);
        ledger.depositVvv(bob, 3_000_000_000L);
        ledger.depositVvv(payer, 10_000_000_000L);
        ledger.stakeVvv(alice, 1_000_000_000L);
        ledger.stakeVvv(payer, 0 + 10_000_000_000L); // the payer stakes to mint credit; it is a VVV staker too
        ledger.mint(payer, 10_000_000, 0);
        ledger.stakeDiem(payer, 10_000_000);
        clock.set(Instant.parse("2026-11-25T12:00:00Z"));
        ledger.stakeVvv(bob, 3_000_000_000L);
        // Charges on the 25th: node A 1,000,000 (paid), node B 300,001 (paid), node C 99,999 (unpaid: implausible).
        charge(payer, "j1", "node-a", 1_000_000, true);
        charge(payer, "j2", "node-b", 300_001, true);
        charge(payer, "j3", "node-c", 99_999, false);

        clock.set(Instant.parse("2026-11-26T01:00:00Z"));
        assertThatThrownBy(() -> new Settlement(ledger, 7000).close("2026-11-26")).hasMessageContaining("has not ended");
        EpochReport r = new Settlement(ledger, 7000).close("2026-11-25");

        assertThat(r.fees()).isEqualTo(1_400_000);
        // providers: 70 % of their paid charges, rounded down: 700,000 and 210,000 (210,000.7)
        assertThat(r.payouts()).contains(new Payout(Recipient.PROVIDER, "node-a", 700_000),
                new Payout(Recipient.PROVIDER, "node-b", 210_000));
        assertThat(r.providerPayout()).isEqualTo(910_000);
        // stakers share the rest, 490,000, by VVV·time: alice 1,000 × 24 h, payer 10,000 × 24 h, bob 3,000 × 12 h
        // weights 24,000 : 240,000 : 36,000 of 300,000 → 39,200 : 392,000 : 58,800 exactly.
        assertThat(r.stakerPayout()).isEqualTo(490_000);
        assertThat(r.payouts()).contains(new Payout(Recipient.STAKER, alice, 39_200),
                new Payout(Recipient.STAKER, payer, 392_000), new Payout(Recipient.STAKER, bob, 58_800));
        assertThat(r.payouts().stream().mapToLong(Payout::amount).sum()).isEqualTo(r.fees());
        // average stake: (1,000 + 10,000) + 3,000 / 2 = 12,500 VVV; yield 490,000 / 12,500 = 39.2 µUSD per VVV
        assertThat(r.averageVvvStaked()).isEqualTo(12_500_000_000L);
        assertThat(r.yieldPerVvv()).isEqualTo(39);
        assertThat(r.yieldPerVvvAnnualised()).isEqualTo(39 * 365);
        // GPU-seconds sold count paid receipts only: 2 × 2 s
        assertThat(r.gpuMicrosSold()).isEqualTo(4_000_000);

        // Every payout proves against the root; a changed amount does not.
        for (Payout p : r.payouts()) {
            Merkle.Proof proof = new Settlement(ledger, 7000).proof(r, p.recipient());
            assertThat(Merkle.verify(Merkle.leaf(r.epoch(), p.kind().column(), p.recipient(), p.amount()), proof.siblings(),
                    proof.siblingIsLeft(), r.merkleRoot())).isTrue();
            assertThat(Merkle.verify(Merkle.leaf(r.epoch(), p.kind().column(), p.recipient(), p.amount() + 1), proof.siblings(),
                    proof.siblingIsLeft(), r.merkleRoot())).isFalse();
        }

        // Idempotent, and a closed epoch never changes: a late charge for the 25th settles on the 26th.
        charge(payer, "j4", "node-a", 5_000, true);
        EpochReport again = new Settlement(ledger, 7000).close("2026-11-25");
        assertThat(again.fees()).isEqualTo(1_400_000);
        assertThat(again.merkleRoot()).isEqualTo(r.merkleRoot());
        assertThat(new Settlement(ledger, 7000).list()).hasSize(1);
    }

    @Test
    void merkleProofsCoverOddAndSingleTrees() {
        for (int n : new int[] {1, 2, 3, 5, 8}) {
            List<byte[]> leaves = new java.util.ArrayList<>();
            for (int i = 0; i < n; i++) {
                leaves.add(Merkle.leaf("2026-01-01", "staker", "acct_" + i, i));
            }
            byte[] root = Merkle.root(leaves);
            for (int i = 0; i < n; i++) {
                Merkle.Proof p = Merkle.proof(leaves, i);
                assertThat(Merkle.verify(p.leaf(), p.siblings(), p.siblingIsLeft(), root)).as("n=%d i=%d", n, i).isTrue();
            }
        }
        assertThat(Merkle.root(List.of())).isEqualTo(new byte[32]);
    }

}
