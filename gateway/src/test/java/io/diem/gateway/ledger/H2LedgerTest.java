package io.diem.gateway.ledger;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** The ledger contract on the embedded H2 file database. */
class H2LedgerTest extends LedgerContractTest {

    @TempDir
    Path dir;

    @Override
    String jdbcUrl() {
        return TestDatabases.h2(dir);
    }
}
