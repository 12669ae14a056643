package io.diem.gateway.call;

import io.diem.common.UnixMicros;
import io.diem.gateway.store.Sql;
import io.diem.gateway.store.Tx;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The jobs this gateway dispatched ({@code jobs}): the ticket's limits a receipt is checked against,
 * what was relayed to the caller, and the job's state. States move only along
 * {@link State#canBecome}, each move a compare-and-set on the row, so two gateways (or a receipt and
 * the overdue sweep) never both settle one job.
 */
public final class Jobs {

    /**
     * dispatched → abandoned (failed before its first token: never charged, retried elsewhere) |
     * booked (charged from its receipt) | settled_relayed (charged from what was relayed: no or
     * implausible receipt).
     */
    public enum State {
        DISPATCHED, ABANDONED, BOOKED, SETTLED_RELAYED;

        String column() {
            return name().toLowerCase(Locale.ROOT);
        }

        static State ofColumn(String value) {
            return valueOf(value.toUpperCase(Locale.ROOT));
        }

        public boolean canBecome(State next) {
            return this == DISPATCHED && next != DISPATCHED;
        }
    }

    /** One job; token counts are limits from its ticket or what was relayed, times µs since the epoch. */
    public record Job(String jobId, String reservationId, String accountId, String keyId, String nodeId, String model,
            long maxPromptTokens, long maxCompletionTokens, long gpuMicrosLimit, long issuedAt, State state,
            boolean streamComplete, long relayedPrompt, long relayedCompletion, long relayedAt) {}

    private static final String SELECT = "SELECT job_id, reservation_id, account_id, key_id, node_id, model, max_prompt_tokens, "
            + "max_completion_tokens, gpu_micros_limit, issued_at, state, stream_complete, relayed_prompt, relayed_completion, "
            + "relayed_at FROM jobs";

    private final Tx tx;
    private final Clock clock;

    public Jobs(Tx tx, Clock clock) {
        this.tx = tx;
        this.clock = clock;
    }

    /** Records a job just dispatched. */
    public void insert(Job j) {
        tx.run(sql -> {
            insert(sql, j);
            return null;
        });
    }

    /** As {@link #insert(Job)}, inside the caller's transaction. */
    public static void insert(Sql sql, Job j) throws SQLException {
        sql.update("INSERT INTO jobs (job_id, reservation_id, account_id, key_id, node_id, model, max_prompt_tokens, "
                + "max_completion_tokens, gpu_micros_limit, issued_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", j.jobId(),
                j.reservationId(), j.accountId(), j.keyId(), j.nodeId(), j.model(), j.maxPromptTokens(), j.maxCompletionTokens(),
                j.gpuMicrosLimit(), j.issuedAt(), j.state().column());
    }

    public Optional<Job> get(String jobId) {
        return tx.run(sql -> sql.one(SELECT + " WHERE job_id = ?", Jobs::read, jobId));
    }

    /** What the gateway relayed to the caller; {@code complete} when the node's summary arrived. */
    public void recordRelayed(String jobId, long promptTokens, long completionTokens, boolean complete) {
        tx.run(sql -> {
            recordRelayed(sql, jobId, promptTokens, completionTokens, complete, UnixMicros.now(clock));
            return null;
        });
    }

    /** As {@link #recordRelayed(String, long, long, boolean)}, inside the caller's transaction; {@code now} in µs. */
    public static void recordRelayed(Sql sql, String jobId, long promptTokens, long completionTokens, boolean complete, long now)
            throws SQLException {
        sql.update("UPDATE jobs SET relayed_prompt = ?, relayed_completion = ?, stream_complete = ?, relayed_at = ? WHERE job_id = ?",
                promptTokens, completionTokens, complete, now, jobId);
    }

    /** Moves a job from {@code from} to {@code to}; false if it was no longer in {@code from} (someone else won). */
    public boolean transition(String jobId, State from, State to) {
        return tx.run(sql -> transition(sql, jobId, from, to));
    }

    /** As {@link #transition(String, State, State)}, inside the caller's transaction. */
    public static boolean transition(Sql sql, String jobId, State from, State to) throws SQLException {
        if (!from.canBecome(to)) {
            throw new IllegalStateException("job " + jobId + " cannot go from " + from + " to " + to);
        }
        return sql.update("UPDATE jobs SET state = ? WHERE job_id = ? AND state = ?", to.column(), jobId, from.column()) == 1;
    }

    /** The job, its row locked until the caller's transaction ends (booking and the overdue sweep serialise on it). */
    public static Optional<Job> lock(Sql sql, String jobId) throws SQLException {
        return sql.one(SELECT + " WHERE job_id = ? FOR UPDATE", Jobs::read, jobId);
    }

    /** Dispatched jobs whose stream ended before {@code relayedBefore} (µs) and whose receipt has not arrived. */
    public List<Job> awaitingReceipt(long relayedBefore) {
        return tx.run(sql -> sql.list(SELECT + " WHERE state = 'dispatched' AND relayed_at > 0 AND relayed_at < ? ORDER BY relayed_at "
                + "LIMIT 500", Jobs::read, relayedBefore));
    }

    /** How many of {@code jobIds} are still dispatched with no relay record yet (their stream's end not recorded). */
    public long unrelayed(List<String> jobIds) {
        if (jobIds.isEmpty()) {
            return 0;
        }
        String marks = String.join(", ", java.util.Collections.nCopies(jobIds.size(), "?"));
        return tx.run(sql -> sql.number("SELECT COUNT(*) FROM jobs WHERE state = 'dispatched' AND relayed_at = 0 AND job_id IN ("
                + marks + ")", jobIds.toArray()));
    }

    private static Job read(ResultSet rs) throws SQLException {
        return new Job(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5), rs.getString(6),
                rs.getLong(7), rs.getLong(8), rs.getLong(9), rs.getLong(10), State.ofColumn(rs.getString(11)), rs.getBoolean(12),
                rs.getLong(13), rs.getLong(14), rs.getLong(15));
    }
}
