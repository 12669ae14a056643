package io.diem.gateway.ledger;

import io.diem.common.UnixMicros;
import io.diem.gateway.error.GatewayException.Kind;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.ledger.LedgerViews.ApiKey;
import io.diem.gateway.ledger.LedgerViews.CreatedKey;
import io.diem.gateway.ledger.LedgerViews.Scope;
import io.diem.gateway.store.Sql;
import io.diem.gateway.store.Tx;
import io.diem.sign.Hashes;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * API keys: high-entropy secrets shown once and stored only as SHA-256 hashes, scoped (inference or
 * admin), revocable, with an optional daily spending limit in µUSD.
 */
public final class ApiKeys {

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String COLUMNS = "key_id, account_id, scope, daily_limit, label, created_at, revoked_at";

    private final Tx tx;
    private final Clock clock;
    /**
     * Valid keys by secret hash, each trusted for {@link #CACHE_TTL}: a key revoked on this gateway
     * leaves the cache at once, one revoked through another gateway sharing the ledger within the TTL.
     * Only valid keys are cached, so unknown and revoked keys always take the same (database) path.
     */
    private final com.github.benmanes.caffeine.cache.Cache<String, ApiKey> valid = com.github.benmanes.caffeine.cache.Caffeine
            .newBuilder().expireAfterWrite(CACHE_TTL).maximumSize(100_000).build();

    /** How long a key read from the ledger is trusted without reading it again (revocation reaches every gateway within it). */
    public static final java.time.Duration CACHE_TTL = java.time.Duration.ofMillis(900);

    public ApiKeys(Tx tx, Clock clock) {
        this.tx = tx;
        this.clock = clock;
    }

    /** A new key; its secret is returned here once and stored only as a SHA-256 hash. */
    public CreatedKey create(String accountId, Scope scope, long dailyLimit, String label) {
        if (dailyLimit < 0) {
            throw new GatewayException(Kind.INVALID_ARGUMENT, "daily limit must be >= 0 µUSD, got " + dailyLimit);
        }
        String safeLabel = label == null ? "" : label.strip();
        if (safeLabel.length() > 128) {
            throw new GatewayException(Kind.INVALID_ARGUMENT, "key label must be at most 128 characters");
        }
        byte[] secretBytes = new byte[32];
        RANDOM.nextBytes(secretBytes);
        String secret = "diem_" + Base64.getUrlEncoder().withoutPadding().encodeToString(secretBytes);
        String hash = hash(secret);
        String keyId = "key_" + hash.substring(0, 16);
        return tx.run(sql -> {
            AccountRow.read(sql, accountId, true);
            long now = UnixMicros.now(clock);
            sql.update("INSERT INTO api_keys (key_id, secret_sha256, account_id, scope, daily_limit, label, created_at) "
                    + "VALUES (?, ?, ?, ?, ?, ?, ?)", keyId, hash, accountId, scope.name().toLowerCase(Locale.ROOT), dailyLimit,
                    safeLabel, now);
            Operations.record(sql, "key:" + keyId, accountId, "create_key", 0, scope.name(), now);
            return new CreatedKey(get(sql, keyId), secret);
        });
    }

    /** Keys of {@code accountId} (all keys when empty), oldest first. */
    public List<ApiKey> list(String accountId) {
        boolean all = accountId == null || accountId.isEmpty();
        return tx.run(sql -> all
                ? sql.list("SELECT " + COLUMNS + " FROM api_keys ORDER BY created_at, key_id", ApiKeys::map)
                : sql.list("SELECT " + COLUMNS + " FROM api_keys WHERE account_id = ? ORDER BY created_at, key_id", ApiKeys::map,
                        accountId));
    }

    public ApiKey revoke(String keyId) {
        try {
            return revokeInLedger(keyId);
        } finally {
            valid.asMap().values().removeIf(k -> k.keyId().equals(keyId));
        }
    }

    private ApiKey revokeInLedger(String keyId) {
        return tx.run(sql -> {
            ApiKey key = sql.one("SELECT " + COLUMNS + " FROM api_keys WHERE key_id = ? FOR UPDATE", ApiKeys::map, keyId)
                    .orElseThrow(() -> new GatewayException(Kind.NOT_FOUND, "no API key '" + keyId + "'"));
            if (!key.revoked()) {
                long now = UnixMicros.now(clock);
                sql.update("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", now, keyId);
                Operations.record(sql, "revoke:" + keyId, key.accountId(), "revoke_key", 0, keyId, now);
            }
            return get(sql, keyId);
        });
    }

    /**
     * The live key for a presented secret, or empty. Every input (malformed, unknown, revoked) takes
     * the same path: hash it, look the hash up, check revocation.
     */
    public Optional<ApiKey> authenticate(String secret) {
        String hash = hash(secret == null ? "" : secret);
        ApiKey cached = valid.getIfPresent(hash);
        if (cached != null) {
            return Optional.of(cached);
        }
        // Unknown, revoked and malformed keys all take this path (one lookup), so their answers take alike.
        Optional<ApiKey> key = tx.run(sql -> sql.one("SELECT " + COLUMNS + " FROM api_keys WHERE secret_sha256 = ?", ApiKeys::map, hash))
                .filter(k -> !k.revoked());
        key.ifPresent(k -> valid.put(hash, k));
        return key;
    }

    public boolean any() {
        return tx.run(sql -> sql.one("SELECT 1 FROM api_keys LIMIT 1", rs -> true).isPresent());
    }

    static ApiKey get(Sql sql, String keyId) throws SQLException {
        return sql.one("SELECT " + COLUMNS + " FROM api_keys WHERE key_id = ?", ApiKeys::map, keyId)
                .orElseThrow(() -> new GatewayException(Kind.NOT_FOUND, "no API key '" + keyId + "'"));
    }

    /** The key's daily limit in µUSD (0 = none). */
    static long dailyLimit(Sql sql, String keyId) throws SQLException {
        return sql.one("SELECT daily_limit FROM api_keys WHERE key_id = ?", rs -> rs.getLong(1), keyId)
                .orElseThrow(() -> new GatewayException(Kind.NOT_FOUND, "no API key '" + keyId + "'"));
    }

    private static ApiKey map(ResultSet rs) throws SQLException {
        long revoked = rs.getLong(7);
        Instant revokedAt = rs.wasNull() ? null : UnixMicros.instant(revoked);
        return new ApiKey(rs.getString(1), rs.getString(2), Scope.valueOf(rs.getString(3).toUpperCase(Locale.ROOT)), rs.getLong(4),
                rs.getString(5), UnixMicros.instant(rs.getLong(6)), revokedAt);
    }

    static String hash(String secret) {
        return Hashes.hex(Hashes.sha256(secret.getBytes(StandardCharsets.UTF_8)));
    }
}
