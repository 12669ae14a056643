package io.diem.gateway.usage;

import io.diem.gateway.ledger.Ledger;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The tickets this gateway issued ({@code jobs} table): what a receipt is checked and charged against. */
public final class JobStore {

    public record Job(String jobId, String reservationId, String accountId, String keyId, String nodeId, String model,
            long maxPromptTokens, long maxCompletionTokens, long gpuMicrosLimit, long issuedAt, String state,
            boolean streamComplete, long relayedPrompt, long relayedCompletion, long relayedAt) {}

    private final Ledger ledger;

    public JobStore(Ledger ledger) {
        this.ledger = ledger;
    }

    public void insert(Job j) {
        ledger.tx(c -> {
            try (PreparedStatement s = c.prepareStatement("INSERT INTO jobs (job_id, reservation_id, account_id, key_id, node_id, model, "
                    + "max_prompt_tokens, max_completion_tokens, gpu_micros_limit, issued_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                s.setString(1, j.jobId());
                s.setString(2, j.reservationId());
                s.setString(3, j.accountId());
                if (j.keyId() == null) {
                    s.setNull(4, Types.VARCHAR);
                } else {
                    s.setString(4, j.keyId());
                }
                s.setString(5, j.nodeId());
                s.setString(6, j.model());
                s.setLong(7, j.maxPromptTokens());
                s.setLong(8, j.maxCompletionTokens());
                s.setLong(9, j.gpuMicrosLimit());
                s.setLong(10, j.issuedAt());
                s.setString(11, j.state());
                s.executeUpdate();
            }
            return null;
        });
    }

    public Optional<Job> get(String jobId) {
        return ledger.tx(c -> get(c, jobId));
    }

    Optional<Job> get(Connection c, String jobId) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(SELECT + " WHERE job_id = ?")) {
            s.setString(1, jobId);
            try (ResultSet rs = s.executeQuery()) {
                return rs.next() ? Optional.of(read(rs)) : Optional.empty();
            }
        }
    }

    /** What the gateway relayed to the caller; {@code complete} when the node's summary arrived. */
    public void recordRelayed(String jobId, long promptTokens, long completionTokens, boolean complete) {
        ledger.tx(c -> {
            try (PreparedStatement s = c.prepareStatement("UPDATE jobs SET relayed_prompt = ?, relayed_completion = ?, "
                    + "stream_complete = ?, relayed_at = ? WHERE job_id = ?")) {
                s.setLong(1, promptTokens);
                s.setLong(2, completionTokens);
                s.setBoolean(3, complete);
                s.setLong(4, ledger.now());
                s.setString(5, jobId);
                s.executeUpdate();
            }
            return null;
        });
    }

    /** Moves a job from {@code from} to {@code to}; false if it was no longer in {@code from} (someone else won). */
    public boolean transition(String jobId, String from, String to) {
        return ledger.tx(c -> {
            try (PreparedStatement s = c.prepareStatement("UPDATE jobs SET state = ? WHERE job_id = ? AND state = ?")) {
                s.setString(1, to);
                s.setString(2, jobId);
                s.setString(3, from);
                return s.executeUpdate() == 1;
            }
        });
    }

    /** Dispatched jobs whose stream ended before {@code relayedBefore} (µs) and whose receipt has not arrived. */
    public List<Job> awaitingReceipt(long relayedBefore) {
        return ledger.tx(c -> {
            List<Job> out = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement(SELECT + " WHERE state = 'dispatched' AND relayed_at > 0 AND relayed_at < ? "
                    + "ORDER BY relayed_at LIMIT 500")) {
                s.setLong(1, relayedBefore);
                try (ResultSet rs = s.executeQuery()) {
                    while (rs.next()) {
                        out.add(read(rs));
                    }
                }
            }
            return out;
        });
    }

    private static final String SELECT = "SELECT job_id, reservation_id, account_id, key_id, node_id, model, max_prompt_tokens, "
            + "max_completion_tokens, gpu_micros_limit, issued_at, state, stream_complete, relayed_prompt, relayed_completion, "
            + "relayed_at FROM jobs";

    private static Job read(ResultSet rs) throws SQLException {
        return new Job(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5), rs.getString(6),
                rs.getLong(7), rs.getLong(8), rs.getLong(9), rs.getLong(10), rs.getString(11), rs.getBoolean(12), rs.getLong(13),
                rs.getLong(14), rs.getLong(15));
    }
}
