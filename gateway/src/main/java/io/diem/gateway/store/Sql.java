package io.diem.gateway.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The statements of one transaction, on its connection: {@link #update}, {@link #one} and
 * {@link #list} bind their arguments in order ({@code String}, {@code Long}, {@code Integer},
 * {@code Boolean}; {@code null} binds SQL NULL) and close every statement they open. Obtained only
 * from {@link Tx}, so every statement runs inside a transaction that commits or rolls back as a whole.
 */
public final class Sql {

    /** Reads the current row of a result. */
    @FunctionalInterface
    public interface RowMapper<T> {
        T map(ResultSet row) throws SQLException;
    }

    private final Connection connection;
    private final boolean postgres;
    private boolean wrote;

    Sql(Connection connection, boolean postgres) {
        this.connection = connection;
        this.postgres = postgres;
    }

    /**
     * What {@code work} returns, computed once per transaction under {@code key}: for a row this
     * transaction has locked already (the lock lasts until it ends), so that a batch touching one
     * row many times locks and reads it once.
     */
    @SuppressWarnings("unchecked")
    public <T> T once(String key, Tx.Work<T> work) throws SQLException {
        if (memo == null) {
            memo = new java.util.HashMap<>();
        }
        Object known = memo.get(key);
        if (known == null) {
            known = work.run(this);
            memo.put(key, known);
        }
        return (T) known;
    }

    private java.util.Map<String, Object> memo;

    /** Whether the database is PostgreSQL (else H2), for the few statements whose dialects differ. */
    public boolean postgres() {
        return postgres;
    }

    /** Whether an INSERT, UPDATE or DELETE ran (the commit then has something to make durable). */
    boolean wrote() {
        return wrote;
    }

    /** Runs an INSERT, UPDATE or DELETE; returns the rows it changed. */
    public int update(String sql, Object... args) throws SQLException {
        wrote = true;
        try (PreparedStatement s = prepare(sql, args)) {
            return s.executeUpdate();
        }
    }

    /** The first row of a query, or empty. */
    public <T> Optional<T> one(String sql, RowMapper<T> mapper, Object... args) throws SQLException {
        try (PreparedStatement s = prepare(sql, args); ResultSet rs = s.executeQuery()) {
            return rs.next() ? Optional.of(mapper.map(rs)) : Optional.empty();
        }
    }

    /** Every row of a query, in its order. */
    public <T> List<T> list(String sql, RowMapper<T> mapper, Object... args) throws SQLException {
        List<T> out = new ArrayList<>();
        try (PreparedStatement s = prepare(sql, args); ResultSet rs = s.executeQuery()) {
            while (rs.next()) {
                out.add(mapper.map(rs));
            }
        }
        return out;
    }

    /** The first column of the first row as a long: for COUNT and SUM queries, which always return a row. */
    public long number(String sql, Object... args) throws SQLException {
        return one(sql, rs -> rs.getLong(1), args)
                .orElseThrow(() -> new SQLException("query returned no row: " + sql));
    }

    private PreparedStatement prepare(String sql, Object[] args) throws SQLException {
        PreparedStatement s = connection.prepareStatement(sql);
        try {
            for (int i = 0; i < args.length; i++) {
                bind(s, i + 1, args[i]);
            }
            return s;
        } catch (SQLException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    private static void bind(PreparedStatement s, int index, Object value) throws SQLException {
        if (value == null) {
            s.setNull(index, Types.VARCHAR); // NULL is bound only to text columns (key ids, flag reasons)
        } else if (value instanceof String v) {
            s.setString(index, v);
        } else if (value instanceof Long v) {
            s.setLong(index, v);
        } else if (value instanceof Integer v) {
            s.setInt(index, v);
        } else if (value instanceof Boolean v) {
            s.setBoolean(index, v);
        } else {
            throw new IllegalArgumentException("cannot bind a " + value.getClass().getSimpleName() + " (argument " + index + ")");
        }
    }
}
