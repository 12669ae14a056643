package io.diem.gateway.nodes;

import io.diem.gateway.store.Tx;
import io.diem.sign.Hashes;
import io.diem.sign.TicketKey;
import java.security.SecureRandom;

/**
 * The per-node keys that authenticate job tickets, each derived from one gateway secret shared by
 * every gateway on the ledger (created by whichever gateway starts first) with
 * {@link TicketKey#derive}, so no per-node key is stored.
 */
public final class TicketKeys {

    private static final String KEY_ID = "k1";

    private final byte[] secret;

    public TicketKeys(Tx tx) {
        this.secret = loadOrCreate(tx);
    }

    private static byte[] loadOrCreate(Tx tx) {
        // A racing gateway's insert fails on the key and is retried, reading the winner's secret.
        return tx.runRetryingDuplicateKey(sql -> {
            var stored = sql.one("SELECT secret_hex FROM gateway_secret WHERE id = 1", rs -> Hashes.unhex(rs.getString(1)));
            if (stored.isPresent()) {
                return stored.get();
            }
            byte[] fresh = new byte[32];
            new SecureRandom().nextBytes(fresh);
            sql.update("INSERT INTO gateway_secret (id, secret_hex) VALUES (1, ?)", Hashes.hex(fresh));
            return fresh;
        });
    }

    /** The key that authenticates this node's tickets (the node receives it at registration). */
    public TicketKey forNode(String nodeId) {
        return TicketKey.derive(secret, KEY_ID, nodeId);
    }
}
