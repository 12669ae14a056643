package io.diem.gateway.nodes;

import io.diem.common.OwnerOnly;
import io.diem.gateway.store.Tx;
import io.diem.sign.Hashes;
import io.diem.sign.TicketKey;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * The per-node keys that authenticate this gateway's job tickets, each derived from one secret
 * ({@link TicketKey#derive}) kept in a 0600 file of the gateway's data directory, never in the
 * database: a copy of the database alone forges no ticket. Every gateway has its own secret and key id
 * ({@code k-} and 8 hex digits of the secret's hash); a node learns each gateway's key over that
 * gateway's authenticated session and keeps it in memory only.
 */
public final class TicketKeys {

    private static final Logger LOG = Logger.getLogger(TicketKeys.class.getName());

    private final byte[] secret;
    private final String keyId;

    /** Loads {@code secretFile}, or creates it (moving a secret an older version kept in the database into it). */
    public TicketKeys(Path secretFile, Tx tx) throws IOException {
        this.secret = loadOrCreate(secretFile, tx);
        this.keyId = "k-" + Hashes.hex(Hashes.sha256(("diem-ticket-key-id/v1\0" + Hashes.hex(secret))
                .getBytes(StandardCharsets.US_ASCII))).substring(0, 8);
    }

    private static byte[] loadOrCreate(Path file, Tx tx) throws IOException {
        if (Files.exists(file)) {
            OwnerOnly.restrict(file);
            byte[] stored = Hashes.unhex(Files.readString(file, StandardCharsets.US_ASCII).strip());
            if (stored.length != 32) {
                throw new IOException("ticket secret " + file + " must hold 64 hex digits");
            }
            return stored;
        }
        Optional<byte[]> legacy = tx.run(sql -> sql.one("SELECT secret_hex FROM gateway_secret WHERE id = 1",
                rs -> Hashes.unhex(rs.getString(1))));
        byte[] secret = legacy.orElseGet(() -> {
            byte[] fresh = new byte[32];
            new SecureRandom().nextBytes(fresh);
            return fresh;
        });
        OwnerOnly.directory(file.toAbsolutePath().getParent());
        OwnerOnly.writeAtomically(file, Hashes.hex(secret) + "\n");
        if (legacy.isPresent()) {
            tx.run(sql -> sql.update("DELETE FROM gateway_secret WHERE id = 1"));
            LOG.info("moved the ticket secret out of the ledger database into " + file + " (0600)");
        }
        return secret;
    }

    /** This gateway's ticket key id (the same for every node). */
    public String keyId() {
        return keyId;
    }

    /** The key that authenticates this node's tickets (the node receives it over its session). */
    public TicketKey forNode(String nodeId) {
        return perNode.computeIfAbsent(nodeId, id -> TicketKey.derive(secret, keyId, id)); // one HMAC per node, not per call
    }

    private final java.util.Map<String, TicketKey> perNode = new java.util.concurrent.ConcurrentHashMap<>();
}
