package io.diem.gateway.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.diem.common.OwnerOnly;
import io.diem.gateway.error.GatewayException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * The gateway's database: an embedded H2 file by default, or PostgreSQL shared by several gateways.
 * H2 runs in its PostgreSQL mode so one SQL dialect serves both. Schema migrations are the
 * versioned files {@code db/migration/V<n>__*.sql}, applied in order, each in one transaction,
 * under a lock when the database is shared.
 */
public final class Db implements AutoCloseable {

    /** The migrations, in order. Add new files here as V2, V3, …; never edit an applied one. */
    static final List<String> MIGRATIONS = List.of("V1__ledger.sql", "V2__nodes_jobs_settlement.sql", "V3__epoch_days.sql",
            "V4__node_suspension.sql", "V5__credit_leases.sql");

    private final HikariDataSource dataSource;
    private final boolean postgres;
    /** The embedded ledger's file, synced after every commit that wrote (null: PostgreSQL or in-memory H2). */
    private volatile FileChannel h2File;
    private volatile GroupSync h2Sync;

    private Db(HikariDataSource dataSource, boolean postgres) {
        this.dataSource = dataSource;
        this.postgres = postgres;
    }

    /**
     * Returns once every commit made so far is on the device. PostgreSQL does that itself before a
     * commit returns (as configured: {@code synchronous_commit}). An H2 file ledger keeps commits in
     * memory until its store writes them; here the store writes everything committed so far as one
     * chunk and the file is synced, one write and one sync covering every commit that waits for it.
     */
    void awaitDurable() throws SQLException {
        GroupSync sync = h2Sync;
        if (sync != null) {
            try {
                sync.await();
            } catch (IOException e) {
                throw new SQLException("cannot sync the ledger file to disk: " + e.getMessage(), "58030", e);
            }
        }
    }

    /** File syncs made for durable commits (0 on PostgreSQL). */
    public long durableSyncs() {
        GroupSync sync = h2Sync;
        return sync == null ? 0 : sync.syncs();
    }

    /**
     * H2 keeps parsed statements per connection in a cache of 8 by default, fewer than the ledger's
     * statements, so it would parse most of them again on every use.
     */
    private static String withStatementCache(String jdbcUrl) {
        if (!jdbcUrl.startsWith("jdbc:h2:") || jdbcUrl.toUpperCase(java.util.Locale.ROOT).contains(";QUERY_CACHE_SIZE=")) {
            return jdbcUrl;
        }
        return jdbcUrl + ";QUERY_CACHE_SIZE=128";
    }

    /** An H2 file ledger: its store (written on demand by {@link #awaitDurable}) and its file (synced there). */
    private void openH2File(String jdbcUrl) {
        if (!jdbcUrl.startsWith("jdbc:h2:file:")) {
            return;
        }
        Path file = Path.of(jdbcUrl.substring("jdbc:h2:file:".length()).split(";", 2)[0] + ".mv.db");
        try (Connection c = connection()) {
            // H2's own API (no JDBC call writes the store on demand): the MVStore behind this database.
            org.h2.mvstore.MVStore store = ((org.h2.engine.SessionLocal) c.unwrap(org.h2.jdbc.JdbcConnection.class).getSession())
                    .getDatabase().getStore().getMvStore();
            FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE);
            h2File = channel;
            h2Sync = new GroupSync(() -> {
                store.commit(); // everything committed so far, as one chunk
                channel.force(false);
            });
        } catch (IOException | SQLException | RuntimeException e) {
            throw new GatewayException(GatewayException.Kind.UNAVAILABLE, "cannot open " + file + " to sync commits: " + e.getMessage(), e);
        }
    }

    /**
     * The default embedded ledger in {@code dataDir/ledger.mv.db}. H2's trace file is off: it would keep
     * SQL text (and with it account ids and amounts) beside the database.
     */
    public static String h2Url(Path dataDir) {
        return "jdbc:h2:file:" + dataDir.toAbsolutePath().resolve("ledger")
                + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH;TRACE_LEVEL_FILE=0";
    }

    /** Opens (and migrates) the database at {@code jdbcUrl}: {@code jdbc:h2:…} or {@code jdbc:postgresql:…}. */
    public static Db open(String jdbcUrl, int poolSize) {
        boolean postgres = jdbcUrl.startsWith("jdbc:postgresql:");
        if (!postgres && !jdbcUrl.startsWith("jdbc:h2:")) {
            throw new IllegalArgumentException("unsupported ledger database '" + jdbcUrl
                    + "': use jdbc:postgresql://HOST:PORT/DB or jdbc:h2:file:PATH");
        }
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(withStatementCache(jdbcUrl));
        config.setMaximumPoolSize(poolSize);
        config.setPoolName("ledger");
        config.setAutoCommit(false);
        config.setTransactionIsolation("TRANSACTION_READ_COMMITTED");
        config.setInitializationFailTimeout(10_000);
        HikariDataSource ds;
        try {
            ds = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw new GatewayException(GatewayException.Kind.UNAVAILABLE,
                    "cannot open the ledger database " + redact(jdbcUrl) + ": " + e.getMessage(), e);
        }
        Db db = new Db(ds, postgres);
        try {
            restrictH2Files(jdbcUrl);
            db.openH2File(jdbcUrl);
            db.migrate();
        } catch (RuntimeException e) {
            ds.close();
            throw e;
        }
        return db;
    }

    /** An embedded ledger's files are the owner's only (0600), whatever the umask was when H2 created them. */
    private static void restrictH2Files(String jdbcUrl) {
        if (!jdbcUrl.startsWith("jdbc:h2:file:")) {
            return;
        }
        String base = jdbcUrl.substring("jdbc:h2:file:".length()).split(";", 2)[0];
        for (String suffix : new String[] {".mv.db", ".trace.db", ".lock.db"}) {
            try {
                OwnerOnly.restrict(Path.of(base + suffix));
            } catch (IOException e) {
                throw new GatewayException(GatewayException.Kind.UNAVAILABLE, "cannot make " + base + suffix + " owner-only: "
                        + e.getMessage(), e);
            }
        }
    }

    private static String redact(String url) {
        return url.replaceAll("password=[^&;]*", "password=***");
    }

    /** A pooled connection with auto-commit off; only {@link Tx} uses it. */
    Connection connection() throws SQLException {
        return dataSource.getConnection();
    }

    public boolean isPostgres() {
        return postgres;
    }

    /** Applies the migrations not yet recorded in {@code schema_version}. */
    public void migrate() {
        try (Connection c = connection()) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE IF NOT EXISTS schema_version (version INT PRIMARY KEY, name VARCHAR(200) NOT NULL, "
                        + "applied_at BIGINT NOT NULL)");
            }
            c.commit();
            for (int i = 0; i < MIGRATIONS.size(); i++) {
                int version = i + 1;
                String name = MIGRATIONS.get(i);
                try (Statement s = c.createStatement()) {
                    if (postgres) {
                        s.execute("SELECT pg_advisory_xact_lock(7070001)"); // one migrator at a time across gateways
                    }
                    boolean applied;
                    try (ResultSet rs = s.executeQuery("SELECT 1 FROM schema_version WHERE version = " + version)) {
                        applied = rs.next();
                    }
                    if (!applied) {
                        for (String statement : statements(read(name))) {
                            s.execute(statement);
                        }
                        s.execute("INSERT INTO schema_version (version, name, applied_at) VALUES (" + version + ", '"
                                + name + "', " + System.currentTimeMillis() * 1000 + ")");
                    }
                    c.commit();
                } catch (SQLException | RuntimeException e) {
                    c.rollback();
                    throw e;
                }
            }
        } catch (SQLException e) {
            throw new GatewayException(GatewayException.Kind.UNAVAILABLE, "ledger schema migration failed: " + e.getMessage(), e);
        }
    }

    private static String read(String name) {
        try (InputStream in = Db.class.getResourceAsStream("/db/migration/" + name)) {
            if (in == null) {
                throw new IllegalStateException("migration " + name + " is missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read migration " + name, e);
        }
    }

    /** Splits a migration into statements at semicolons that end a line, dropping comments. */
    static List<String> statements(String sql) {
        List<String> out = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : sql.split("\n")) {
            String trimmed = line.strip();
            if (trimmed.startsWith("--") || trimmed.isEmpty()) {
                continue;
            }
            current.append(line).append('\n');
            if (trimmed.endsWith(";")) {
                String statement = current.toString().strip();
                out.add(statement.substring(0, statement.length() - 1));
                current.setLength(0);
            }
        }
        if (!current.toString().isBlank()) {
            out.add(current.toString().strip());
        }
        return out;
    }

    @Override
    public void close() {
        dataSource.close();
        FileChannel file = h2File;
        if (file != null) {
            try {
                file.close();
            } catch (IOException e) {
                // nothing was written through this channel: closing it cannot lose data
            }
        }
    }
}
