package io.diem.gateway.ledger;

import io.diem.common.UnixMicros;
import io.diem.gateway.error.GatewayException.Kind;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.store.Sql;
import io.diem.gateway.store.Tx;
import java.sql.SQLException;
import java.time.Clock;
import java.util.List;
import java.util.Optional;

/** Each model's prices ({@code model_prices}); a model without a price is not offered. */
public final class Prices {

    private final Tx tx;
    private final Clock clock;
    /**
     * Prices read for admission, each trusted for {@link ApiKeys#CACHE_TTL}: a price set on this gateway
     * replaces its entry at once, one set through another gateway sharing the ledger is seen within the
     * TTL. Models without a price are not cached (a new price is seen at once). Receipt booking reads the
     * ledger itself.
     */
    private final com.github.benmanes.caffeine.cache.Cache<String, Pricing> cached = com.github.benmanes.caffeine.cache.Caffeine
            .newBuilder().expireAfterWrite(ApiKeys.CACHE_TTL).maximumSize(10_000).build();

    public Prices(Tx tx, Clock clock) {
        this.tx = tx;
        this.clock = clock;
    }

    public Pricing set(Pricing price) {
        if (price.model() == null || price.model().isBlank() || price.model().length() > 128) {
            throw new GatewayException(Kind.INVALID_ARGUMENT, "model name must be 1..128 characters");
        }
        // UPDATE, else INSERT: portable between H2 and PostgreSQL; a racing INSERT loses on the key and is retried.
        Pricing stored = tx.runRetryingDuplicateKey(sql -> {
            long now = UnixMicros.now(clock);
            int updated = sql.update("UPDATE model_prices SET prompt_per_million = ?, completion_per_million = ?, per_gpu_second = ?, "
                    + "updated_at = ? WHERE model = ?", price.promptPerMillion(), price.completionPerMillion(), price.perGpuSecond(), now,
                    price.model());
            if (updated == 0) {
                sql.update("INSERT INTO model_prices (model, prompt_per_million, completion_per_million, per_gpu_second, updated_at) "
                        + "VALUES (?, ?, ?, ?, ?)", price.model(), price.promptPerMillion(), price.completionPerMillion(),
                        price.perGpuSecond(), now);
            }
            return price;
        });
        cached.invalidate(price.model());
        return stored;
    }

    public Optional<Pricing> get(String model) {
        Pricing hit = cached.getIfPresent(model);
        if (hit != null) {
            return Optional.of(hit);
        }
        Optional<Pricing> price = tx.run(sql -> find(sql, model));
        price.ifPresent(p -> cached.put(model, p));
        return price;
    }

    /** The model's prices inside the caller's transaction; a model without a price is charged 0. */
    public static Pricing findOrFree(Sql sql, String model) throws SQLException {
        return find(sql, model).orElse(new Pricing(model, 0, 0, 0));
    }

    private static Optional<Pricing> find(Sql sql, String model) throws SQLException {
        return sql.one("SELECT model, prompt_per_million, completion_per_million, per_gpu_second FROM model_prices WHERE model = ?",
                rs -> new Pricing(rs.getString(1), rs.getLong(2), rs.getLong(3), rs.getLong(4)), model);
    }

    public List<Pricing> list() {
        return tx.run(sql -> sql.list("SELECT model, prompt_per_million, completion_per_million, per_gpu_second FROM model_prices "
                + "ORDER BY model", rs -> new Pricing(rs.getString(1), rs.getLong(2), rs.getLong(3), rs.getLong(4))));
    }
}
