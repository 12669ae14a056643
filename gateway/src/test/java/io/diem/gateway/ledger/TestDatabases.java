package io.diem.gateway.ledger;

import io.diem.gateway.store.Db;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;

/**
 * Fresh ledger databases for tests: an H2 file in a temporary folder, or a new schema in the
 * PostgreSQL on 127.0.0.1:5432 (trust auth, database {@code test}; .ci/run starts it). Set
 * {@code DIEM_TEST_POSTGRES_URL} to use another server.
 */
public final class TestDatabases {

    public static final String POSTGRES = System.getenv().getOrDefault("DIEM_TEST_POSTGRES_URL",
            "jdbc:postgresql://127.0.0.1:5432/test?user=postgres");

    private TestDatabases() {}

    static String h2(Path dir) {
        return Db.h2Url(dir.resolve("h2-" + UUID.randomUUID()));
    }

    /** A JDBC URL whose default schema is a new, empty one. */
    public static String postgresSchema() throws SQLException {
        String schema = "t_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
        try (Connection c = DriverManager.getConnection(POSTGRES); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA " + schema);
        }
        return POSTGRES + (POSTGRES.contains("?") ? "&" : "?") + "currentSchema=" + schema;
    }

    /** Drops the schema of a URL from {@link #postgresSchema}. */
    public static void dropPostgresSchema(String url) throws SQLException {
        String schema = url.substring(url.indexOf("currentSchema=") + "currentSchema=".length());
        try (Connection c = DriverManager.getConnection(POSTGRES); Statement s = c.createStatement()) {
            s.execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
        }
    }
}
