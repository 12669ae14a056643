package io.diem.gateway.ledger;

import io.diem.gateway.ledger.EpochReport.Payout;
import io.diem.gateway.ledger.EpochReport.Recipient;
import io.diem.gateway.store.Sql;
import io.diem.sign.Hashes;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Closed epochs and their payouts ({@code epochs}, {@code payouts}). A closed epoch never changes:
 * booking and closing both lock the day's {@code epoch_days} row first ({@link #lockForBooking}, shared,
 * and {@link #lock}, exclusive), so a charge is
 * tagged with a day either before that day closes (and the close counts it) or after (and it goes to
 * the next day that is still open, {@link #openEpochFrom}). Settlement computes a report and stores it
 * here in the same transaction that locked the day and found it open.
 */
public final class Epochs {

    private Epochs() {}

    static boolean isClosed(Sql sql, String epoch) throws SQLException {
        return sql.one("SELECT 1 FROM epochs WHERE epoch = ?", rs -> true, epoch).isPresent();
    }

    /** Locks the day's row (creating it) for closing the day: no booking tags a charge with it meanwhile. */
    public static void lock(Sql sql, String epoch) throws SQLException {
        sql.update("INSERT INTO epoch_days (epoch) VALUES (?) ON CONFLICT DO NOTHING", epoch);
        sql.one("SELECT epoch FROM epoch_days WHERE epoch = ? FOR UPDATE", rs -> true, epoch);
    }

    /**
     * Locks the day's row (creating it) for booking into it: shared on PostgreSQL, so bookings run side
     * by side and only a close waits for them (and they for it); H2 has only exclusive row locks.
     */
    static void lockForBooking(Sql sql, String epoch) throws SQLException {
        sql.update("INSERT INTO epoch_days (epoch) VALUES (?) ON CONFLICT DO NOTHING", epoch);
        sql.one("SELECT epoch FROM epoch_days WHERE epoch = ? " + (sql.postgres() ? "FOR SHARE" : "FOR UPDATE"), rs -> true, epoch);
    }

    /** The first day from {@code day} on whose epoch is still open, locked so it stays open until this transaction ends. */
    static String openEpochFrom(Sql sql, String day) throws SQLException {
        return sql.once("open-epoch:" + day, s -> openEpochFromNow(s, day)); // locked until the transaction ends
    }

    private static String openEpochFromNow(Sql sql, String day) throws SQLException {
        String epoch = day;
        while (true) {
            lockForBooking(sql, epoch);
            if (!isClosed(sql, epoch)) {
                return epoch;
            }
            epoch = java.time.LocalDate.parse(epoch).plusDays(1).toString();
        }
    }

    public static void insert(Sql sql, EpochReport r) throws SQLException {
        sql.update("INSERT INTO epochs (epoch, closed_at, fees, gpu_micros_sold, gpu_micros_offered, provider_payout, staker_payout, "
                + "average_vvv_staked, merkle_root_hex) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", r.epoch(), r.closedAt(), r.fees(),
                r.gpuMicrosSold(), r.gpuMicrosOffered(), r.providerPayout(), r.stakerPayout(), r.averageVvvStaked(),
                Hashes.hex(r.merkleRoot()));
        for (Payout p : r.payouts()) {
            sql.update("INSERT INTO payouts (epoch, kind, recipient, amount) VALUES (?, ?, ?, ?)", r.epoch(), p.kind().column(),
                    p.recipient(), p.amount());
        }
    }

    public static Optional<EpochReport> read(Sql sql, String epoch) throws SQLException {
        Optional<EpochReport> base = sql.one("SELECT closed_at, fees, gpu_micros_sold, gpu_micros_offered, provider_payout, "
                + "staker_payout, average_vvv_staked, merkle_root_hex FROM epochs WHERE epoch = ?",
                rs -> new EpochReport(epoch, rs.getLong(1), rs.getLong(2), rs.getLong(3), rs.getLong(4), rs.getLong(5), rs.getLong(6),
                        rs.getLong(7), Hashes.unhex(rs.getString(8)), List.of()), epoch);
        if (base.isEmpty()) {
            return base;
        }
        EpochReport b = base.get();
        List<Payout> payouts = sql.list("SELECT kind, recipient, amount FROM payouts WHERE epoch = ? ORDER BY kind, recipient",
                rs -> new Payout(Recipient.valueOf(rs.getString(1).toUpperCase(Locale.ROOT)), rs.getString(2), rs.getLong(3)), epoch);
        return Optional.of(new EpochReport(epoch, b.closedAt(), b.fees(), b.gpuMicrosSold(), b.gpuMicrosOffered(), b.providerPayout(),
                b.stakerPayout(), b.averageVvvStaked(), b.merkleRoot(), payouts));
    }

    /** Every closed epoch, newest first. */
    public static List<EpochReport> list(Sql sql) throws SQLException {
        List<EpochReport> out = new ArrayList<>();
        for (String epoch : sql.list("SELECT epoch FROM epochs ORDER BY epoch DESC", rs -> rs.getString(1))) {
            out.add(read(sql, epoch).orElseThrow());
        }
        return out;
    }
}
