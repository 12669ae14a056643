package io.diem.gateway.call;

import io.diem.common.OwnerOnly;
import io.diem.common.UnixMicros;
import io.diem.gateway.ledger.Ledger;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/**
 * What a gateway owns in the ledger, and how it cleans up after its own crash. Each gateway has an
 * id kept in its data directory ({@code gateway.id}, made once), and every reservation it creates is
 * named {@code call_<gateway id>_<uuid>}. On start, before it serves, the gateway looks at the
 * reservations of its previous run still pending:
 * <ul>
 *   <li>one with no dispatched job (the crash came before dispatch, or after every attempt failed
 *       before a token) is released at once;</li>
 *   <li>a dispatched job with no relay record (the crash came mid-stream) gets one: nothing known to
 *       be relayed, stream incomplete. Its receipt is then booked for the prompt and compute only, or
 *       if none comes within the receipt TTL the overdue sweep settles it at that (0).</li>
 * </ul>
 * Jobs with a relay record already wait for their receipt as usual, and the credit leases the previous
 * run still held are returned to their accounts at once (rather than when they expire). Gateways sharing one ledger must
 * each have their own data directory (they already need their own ticket secret).
 */
public final class CallRecovery {

    private static final Logger LOG = Logger.getLogger(CallRecovery.class.getName());
    private static final Pattern ID = Pattern.compile("[0-9a-f]{16}");

    private CallRecovery() {}

    /** This gateway's id, read from {@code dataDir/gateway.id} or made there on first start. */
    public static String gatewayId(Path dataDir) throws IOException {
        Path file = dataDir.resolve("gateway.id");
        if (Files.exists(file)) {
            String id = Files.readString(file, StandardCharsets.US_ASCII).trim();
            if (!ID.matcher(id).matches()) {
                throw new IOException("gateway id file " + file + " must hold 16 lowercase hex digits; found '" + id + "'");
            }
            return id;
        }
        byte[] random = new byte[8];
        new SecureRandom().nextBytes(random);
        String id = HexFormat.of().formatHex(random);
        OwnerOnly.directory(file.toAbsolutePath().getParent());
        OwnerOnly.writeAtomically(file, id + "\n");
        return id;
    }

    /** A fresh reservation id owned by gateway {@code gatewayId}: 54 characters, so its ledger operation id fits 64. */
    public static String newCallId(String gatewayId) {
        return "call_" + gatewayId + "_" + UUID.randomUUID().toString().replace("-", "");
    }

    /** What recovery did: reservations released, jobs given a relay record, credit leases returned. */
    public record Recovered(int released, int unrelayedJobs, int leasesReturned) {}

    /** Cleans up the pending reservations of gateway {@code gatewayId}'s previous run (see the class comment). */
    public static Recovered recover(Ledger ledger, String gatewayId) {
        if (!ID.matcher(gatewayId).matches()) {
            throw new IllegalArgumentException("gateway id must be 16 lowercase hex digits");
        }
        String prefix = "call\\_" + gatewayId + "\\_%"; // LIKE: the underscores are literal
        List<String> pending = ledger.tx().run(sql -> sql.list("SELECT reservation_id FROM reservations WHERE state = 'pending' "
                + "AND reservation_id LIKE ? ESCAPE '\\'", rs -> rs.getString(1), prefix));
        int released = 0;
        int unrelayed = 0;
        for (String reservationId : pending) {
            long now = UnixMicros.now(ledger.clock());
            long[] counts = ledger.tx().run(sql -> {
                long dispatched = sql.number("SELECT COUNT(*) FROM jobs WHERE reservation_id = ? AND state = 'dispatched'",
                        reservationId);
                long marked = sql.update("UPDATE jobs SET relayed_prompt = 0, relayed_completion = 0, stream_complete = FALSE, "
                        + "relayed_at = ? WHERE reservation_id = ? AND state = 'dispatched' AND relayed_at = 0", now, reservationId);
                return new long[] {dispatched, marked};
            });
            unrelayed += (int) counts[1];
            if (counts[0] == 0) {
                ledger.release(reservationId);
                released++;
            }
        }
        int leases = ledger.leases().giveBackAll(gatewayId);
        if (released + unrelayed + leases > 0) {
            LOG.info("recovered from the previous run: released " + released + " reservations of calls that never reached a node; "
                    + unrelayed + " jobs cut off mid-stream are charged for prompt and compute when their receipts come; "
                    + leases + " credit leases returned");
        }
        return new Recovered(released, unrelayed, leases);
    }
}
