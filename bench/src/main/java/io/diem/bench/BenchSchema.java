package io.diem.bench;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;

/** A fresh PostgreSQL schema for one benchmark run, dropped again at the end. */
final class BenchSchema {

    private final String server;
    private final String name;

    private BenchSchema(String server, String name) {
        this.server = server;
        this.name = name;
    }

    /** Creates a new schema on the server at JDBC URL {@code server}. */
    static BenchSchema create(String server) throws SQLException {
        String name = "bench_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        try (Connection c = DriverManager.getConnection(server); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA " + name);
        }
        return new BenchSchema(server, name);
    }

    /** The server's URL with this schema as the default. */
    String url() {
        return server + (server.contains("?") ? "&" : "?") + "currentSchema=" + name;
    }

    void drop() throws SQLException {
        try (Connection c = DriverManager.getConnection(server); Statement s = c.createStatement()) {
            s.execute("DROP SCHEMA IF EXISTS " + name + " CASCADE");
        }
    }
}
