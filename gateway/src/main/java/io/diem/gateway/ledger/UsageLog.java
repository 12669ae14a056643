package io.diem.gateway.ledger;

import io.diem.common.UnixMicros;
import io.diem.gateway.error.GatewayException.Kind;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.ledger.LedgerViews.UsageRecord;
import io.diem.gateway.store.Sql;
import io.diem.gateway.store.Tx;
import java.sql.SQLException;
import java.util.List;

/**
 * The booked usage of every job ({@code usage_records}): one row per charge, written in the same
 * transaction that posts its reservation, tagged with the epoch it settles in.
 */
public final class UsageLog {

    /** One charge as settlement sees it. */
    public record EpochCharge(String nodeId, boolean nodePaid, String computeKind, long cost, long gpuMicros) {}

    private final Tx tx;

    public UsageLog(Tx tx) {
        this.tx = tx;
    }

    static void insert(Sql sql, UsageRecord usage, String accountId, String keyId, long charge, String day, long bookedAt,
            String epoch, boolean nodePaid) throws SQLException {
        sql.update("INSERT INTO usage_records (job_id, account_id, key_id, model, node_id, prompt_tokens, completion_tokens, "
                + "gpu_micros, compute_kind, cost, finish_reason, utc_day, booked_at, epoch, node_paid) "
                + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", usage.jobId(), accountId, keyId, usage.model(),
                usage.nodeId(), usage.promptTokens(), usage.completionTokens(), usage.gpuMicros(), usage.computeKind(), charge,
                usage.finishReason(), day, bookedAt, epoch, nodePaid);
    }

    /** An account's usage, newest first; {@code pageToken} is the last record's "bookedAt/jobId" (empty for the first page). */
    public List<UsageRecord> page(String accountId, int pageSize, String pageToken) {
        long beforeAt = Long.MAX_VALUE;
        String beforeJob = "";
        if (pageToken != null && !pageToken.isEmpty()) {
            int slash = pageToken.indexOf('/');
            try {
                beforeAt = Long.parseLong(pageToken.substring(0, slash));
                beforeJob = pageToken.substring(slash + 1);
            } catch (RuntimeException e) {
                throw new GatewayException(Kind.INVALID_ARGUMENT, "malformed page token '" + pageToken + "'");
            }
        }
        long at = beforeAt;
        String job = beforeJob.isEmpty() ? "\uffff" : beforeJob;
        return tx.run(sql -> {
            AccountRow.read(sql, accountId, false);
            return sql.list("SELECT job_id, key_id, model, node_id, prompt_tokens, completion_tokens, gpu_micros, compute_kind, cost, "
                    + "finish_reason, booked_at FROM usage_records WHERE account_id = ? AND (booked_at < ? OR (booked_at = ? AND job_id < ?)) "
                    + "ORDER BY booked_at DESC, job_id DESC LIMIT ?",
                    rs -> new UsageRecord(rs.getString(1), accountId, rs.getString(2), rs.getString(3), rs.getString(4), rs.getLong(5),
                            rs.getLong(6), rs.getLong(7), rs.getString(8), rs.getLong(9), rs.getString(10),
                            UnixMicros.instant(rs.getLong(11))), accountId, at, at, job, pageSize);
        });
    }

    /** The page token that continues after {@code last}. */
    public static String pageTokenAfter(UsageRecord last) {
        return UnixMicros.of(last.bookedAt()) + "/" + last.jobId();
    }

    /** Every charge that settles in {@code epoch}, by node. */
    public static List<EpochCharge> epochCharges(Sql sql, String epoch) throws SQLException {
        return sql.list("SELECT node_id, node_paid, compute_kind, cost, gpu_micros FROM usage_records WHERE epoch = ? ORDER BY node_id",
                rs -> new EpochCharge(rs.getString(1), rs.getBoolean(2), rs.getString(3), rs.getLong(4), rs.getLong(5)), epoch);
    }
}
