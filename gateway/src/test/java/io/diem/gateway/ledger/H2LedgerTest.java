package io.diem.gateway.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ledger contract on the embedded H2 file database. */
class H2LedgerTest extends LedgerContractTest {

    @TempDir
    Path dir;

    @Override
    String jdbcUrl() {
        return TestDatabases.h2(dir);
    }

    @Test
    void everyCommitThatWroteIsSyncedToTheDeviceAndReadsAreNot() {
        String account = stakedAccount(10);
        long before = db.durableSyncs();
        ledger.reserve("r-sync", account, null, 1_000);
        assertThat(db.durableSyncs()).isEqualTo(before + 1);
        ledger.balance(account);
        ledger.reservation("r-sync");
        assertThat(db.durableSyncs()).isEqualTo(before + 1);
        ledger.release("r-sync");
        assertThat(db.durableSyncs()).isEqualTo(before + 2);
    }
}
