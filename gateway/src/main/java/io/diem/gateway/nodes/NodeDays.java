package io.diem.gateway.nodes;

import io.diem.gateway.store.Sql;
import java.sql.SQLException;

/**
 * Compute each node offered per UTC day ({@code node_days}): devices online × time between
 * heartbeats, in device-µs. Settlement divides the compute sold by this to report utilisation.
 */
public final class NodeDays {

    private NodeDays() {}

    static void addOffered(Sql sql, String nodeId, String day, long micros) throws SQLException {
        if (sql.update("UPDATE node_days SET offered_micros = offered_micros + ? WHERE node_id = ? AND utc_day = ?",
                micros, nodeId, day) == 0) {
            sql.update("INSERT INTO node_days (node_id, utc_day, offered_micros) VALUES (?, ?, ?)", nodeId, day, micros);
        }
    }

    /** Compute offered by every node on {@code day}, in device-µs. */
    public static long offeredMicros(Sql sql, String day) throws SQLException {
        return sql.number("SELECT COALESCE(SUM(offered_micros), 0) FROM node_days WHERE utc_day = ?", day);
    }
}
