package io.diem.gateway.cli;

import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerConfig;
import io.diem.gateway.store.Db;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code diem-gateway check-ledger}: the ledger's invariants, checked on a live or stopped ledger. */
@Command(name = "check-ledger", mixinStandardHelpOptions = true,
        description = "Check the ledger's invariants (balances, reservations, charges, closed epochs); exit 1 if any is violated.")
final class CheckLedgerCommand implements Callable<Integer> {

    @Option(names = "--db", required = true, description = "Ledger JDBC URL, e.g. jdbc:postgresql://HOST:5432/DB?user=U.")
    String db;

    @Override
    public Integer call() {
        try (Db database = Db.open(db, 2)) {
            List<String> violations = new Ledger(database, LedgerConfig.defaults(), Clock.systemUTC()).invariantViolations();
            violations.forEach(v -> System.out.println("violated: " + v));
            System.out.println(violations.size() + " invariant violations");
            return violations.isEmpty() ? 0 : 1;
        }
    }
}
