package io.diem.gateway.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.diem.gateway.error.GatewayException;
import io.diem.gateway.error.GatewayException.Kind;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which failures a transaction is run again for, and what the rest become. */
class TxTest {

    @TempDir
    Path dir;
    Db db;
    Tx tx;

    @BeforeEach
    void open() {
        db = Db.open(Db.h2Url(dir), 2);
        tx = new Tx(db);
    }

    @AfterEach
    void close() {
        db.close();
    }

    @Test
    void serialisationFailuresAndDeadlocksAreRetriedAndTheRolledBackAttemptLeavesNothing() {
        AtomicInteger attempts = new AtomicInteger();
        long result = tx.run(sql -> {
            sql.update("INSERT INTO model_prices (model, prompt_per_million, completion_per_million, per_gpu_second, updated_at) "
                    + "VALUES (?, 1, 1, 1, 0)", "m" + attempts.get());
            int n = attempts.incrementAndGet();
            if (n == 1) {
                throw new SQLException("lost a race", "40001");
            }
            if (n == 2) {
                throw new SQLException("deadlock", "40P01");
            }
            return sql.number("SELECT COUNT(*) FROM model_prices");
        });
        assertThat(attempts.get()).isEqualTo(3);
        assertThat(result).isEqualTo(1); // the first two attempts' inserts were rolled back
        List<String> models = tx.run(sql -> sql.list("SELECT model FROM model_prices", rs -> rs.getString(1)));
        assertThat(models).containsExactly("m2");
    }

    @Test
    void aRetriedTransactionGivesUpAfterFiveAttemptsAsUnavailable() {
        AtomicInteger attempts = new AtomicInteger();
        assertThatThrownBy(() -> tx.run(sql -> {
            attempts.incrementAndGet();
            throw new SQLException("always losing", "40001");
        })).isInstanceOfSatisfying(GatewayException.class, e -> {
            assertThat(e.kind()).isEqualTo(Kind.UNAVAILABLE);
            assertThat(e.getMessage()).isEqualTo("ledger database error (SQLSTATE 40001); the gateway logged the details, retry later")
                    .doesNotContain("always losing"); // the database's text stays in the log
        });
        assertThat(attempts.get()).isEqualTo(Tx.ATTEMPTS);
    }

    @Test
    void aDuplicateKeyIsRetriedOnlyWhereTheCallerAsksForIt() {
        AtomicInteger plain = new AtomicInteger();
        assertThatThrownBy(() -> tx.run(sql -> {
            plain.incrementAndGet();
            throw new SQLException("duplicate", "23505");
        })).isInstanceOfSatisfying(GatewayException.class, e -> assertThat(e.kind()).isEqualTo(Kind.UNAVAILABLE));
        assertThat(plain.get()).isEqualTo(1);

        AtomicInteger upsert = new AtomicInteger();
        String won = tx.runRetryingDuplicateKey(sql -> {
            if (upsert.incrementAndGet() == 1) {
                throw new SQLException("another gateway inserted first", "23505");
            }
            return "read the winner's row";
        });
        assertThat(won).isEqualTo("read the winner's row");
        assertThat(upsert.get()).isEqualTo(2);
    }

    @Test
    void refusalsPassThroughOnceAndEveryTransactionIsTimed() {
        List<Long> durations = new ArrayList<>();
        tx.onTransaction(durations::add);
        AtomicInteger attempts = new AtomicInteger();
        GatewayException refusal = new GatewayException(Kind.NOT_FOUND, "no account 'x'");
        assertThatThrownBy(() -> tx.run(sql -> {
            attempts.incrementAndGet();
            throw refusal;
        })).isSameAs(refusal);
        assertThat(attempts.get()).isEqualTo(1);
        tx.run(sql -> sql.number("SELECT 1"));
        assertThat(durations).hasSize(2).allSatisfy(n -> assertThat(n).isPositive());
    }

    @Test
    void sqlBindsNullAndRefusesTypesItDoesNotKnow() {
        tx.run(sql -> sql.update("INSERT INTO accounts (account_id, name, created_at) VALUES (?, ?, ?)", "acct_1", "a", 1L));
        tx.run(sql -> sql.update("INSERT INTO reservations (reservation_id, account_id, key_id, utc_day, amount, state, created_at, "
                + "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", "r1", "acct_1", null, "2026-12-01", 5L, "pending", 1L, 2L));
        java.util.Optional<Boolean> keyIsNull = tx.run(sql -> sql.one("SELECT key_id FROM reservations WHERE reservation_id = ?",
                rs -> rs.getString(1) == null, "r1"));
        assertThat(keyIsNull).contains(true);
        assertThatThrownBy(() -> tx.run(sql -> sql.update("SELECT ?", 1.5)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("cannot bind a Double (argument 1)");
    }
}
