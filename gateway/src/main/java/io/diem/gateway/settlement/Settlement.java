package io.diem.gateway.settlement;

import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerException;
import io.diem.gateway.ledger.LedgerException.Kind;
import io.diem.sign.Hashes;
import java.math.BigInteger;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Closes an epoch (a UTC day) and splits its fees: each node gets {@code providerBps} of the charges
 * its paid receipts produced (rounded down); the rest goes to VVV stakers pro rata their
 * time-weighted stake over the day, rounded down with the remainder handed out one µUSD at a time by
 * largest fractional part, so payouts add up to the fees exactly (when there are stakers). Closing
 * is idempotent and a closed epoch never changes: charges booked later for that day settle in the
 * day they were booked.
 */
public final class Settlement {

    public record Payout(String kind, String recipient, long amount) {}

    public record Report(String epoch, long closedAt, long fees, long gpuMicrosSold, long gpuMicrosOffered,
            long providerPayout, long stakerPayout, long averageVvvStaked, byte[] merkleRoot, List<Payout> payouts) {

        public long utilizationPpm() {
            return gpuMicrosOffered == 0 ? 0 : BigInteger.valueOf(gpuMicrosSold).multiply(BigInteger.valueOf(1_000_000))
                    .divide(BigInteger.valueOf(gpuMicrosOffered)).longValue();
        }

        /** µUSD per whole VVV staked, for the epoch. */
        public long yieldPerVvv() {
            return averageVvvStaked == 0 ? 0 : BigInteger.valueOf(stakerPayout).multiply(BigInteger.valueOf(1_000_000))
                    .divide(BigInteger.valueOf(averageVvvStaked)).longValue();
        }

        /** µUSD per whole VVV per year, if every day paid like this one (simple, × 365). */
        public long yieldPerVvvAnnualised() {
            return yieldPerVvv() * 365;
        }
    }

    private final Ledger ledger;
    private final int providerBps;

    /** @param providerBps providers' share of fees in basis points (default 7000 = 70 %) */
    public Settlement(Ledger ledger, int providerBps) {
        if (providerBps < 0 || providerBps > 10_000) {
            throw new IllegalArgumentException("provider share must be 0..10000 basis points, got " + providerBps);
        }
        this.ledger = ledger;
        this.providerBps = providerBps;
    }

    public static String parseEpoch(String epoch) {
        try {
            return LocalDate.parse(epoch).toString();
        } catch (DateTimeParseException e) {
            throw new LedgerException(Kind.INVALID_ARGUMENT, "epoch must be a UTC day YYYY-MM-DD, got '" + epoch + "'");
        }
    }

    /** Closes {@code epoch} (a day that has ended), or returns its report if it is closed already. */
    public Report close(String epoch) {
        String day = parseEpoch(epoch);
        String today = Ledger.day(ledger.now());
        if (day.compareTo(today) >= 0) {
            throw new LedgerException(Kind.FAILED_PRECONDITION, "epoch " + day + " has not ended (today is " + today + " UTC)");
        }
        return ledger.tx(c -> {
            Optional<Report> existing = read(c, day);
            if (existing.isPresent()) {
                return existing.get();
            }
            Report report = compute(c, day);
            try (PreparedStatement s = c.prepareStatement("INSERT INTO epochs (epoch, closed_at, fees, gpu_micros_sold, "
                    + "gpu_micros_offered, provider_payout, staker_payout, average_vvv_staked, merkle_root_hex) "
                    + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                s.setString(1, day);
                s.setLong(2, report.closedAt());
                s.setLong(3, report.fees());
                s.setLong(4, report.gpuMicrosSold());
                s.setLong(5, report.gpuMicrosOffered());
                s.setLong(6, report.providerPayout());
                s.setLong(7, report.stakerPayout());
                s.setLong(8, report.averageVvvStaked());
                s.setString(9, Hashes.hex(report.merkleRoot()));
                s.executeUpdate();
            }
            for (Payout p : report.payouts()) {
                try (PreparedStatement s = c.prepareStatement("INSERT INTO payouts (epoch, kind, recipient, amount) VALUES (?, ?, ?, ?)")) {
                    s.setString(1, day);
                    s.setString(2, p.kind());
                    s.setString(3, p.recipient());
                    s.setLong(4, p.amount());
                    s.executeUpdate();
                }
            }
            return report;
        });
    }

    private Report compute(Connection c, String day) throws SQLException {
        long fees = 0;
        long sold = 0;
        Map<String, Long> byNode = new LinkedHashMap<>();
        try (PreparedStatement s = c.prepareStatement("SELECT node_id, node_paid, compute_kind, cost, gpu_micros FROM usage_records "
                + "WHERE epoch = ? ORDER BY node_id")) {
            s.setString(1, day);
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    fees += rs.getLong(4);
                    if (rs.getBoolean(2)) {
                        byNode.merge(rs.getString(1), rs.getLong(4), Long::sum);
                        if (rs.getString(3).equals("gpu")) {
                            sold += rs.getLong(5);
                        }
                    }
                }
            }
        }
        long offered = 0;
        try (PreparedStatement s = c.prepareStatement("SELECT COALESCE(SUM(offered_micros), 0) FROM node_days WHERE utc_day = ?")) {
            s.setString(1, day);
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                offered = rs.getLong(1);
            }
        }
        List<Payout> payouts = new ArrayList<>();
        long providerTotal = 0;
        for (Map.Entry<String, Long> e : byNode.entrySet()) {
            long amount = e.getValue() * providerBps / 10_000;
            providerTotal += amount;
            payouts.add(new Payout("provider", e.getKey(), amount));
        }
        long pool = fees - providerTotal;
        long start = LocalDate.parse(day).atStartOfDay().toInstant(ZoneOffset.UTC).getEpochSecond() * 1_000_000L;
        long end = start + 86_400_000_000L;
        Map<String, BigInteger> weights = stakeWeights(c, start, end);
        BigInteger totalWeight = weights.values().stream().reduce(BigInteger.ZERO, BigInteger::add);
        long stakerTotal = 0;
        if (totalWeight.signum() > 0 && pool > 0) {
            List<Object[]> shares = new ArrayList<>(); // recipient, floor, remainder
            for (Map.Entry<String, BigInteger> e : weights.entrySet()) {
                BigInteger[] qr = BigInteger.valueOf(pool).multiply(e.getValue()).divideAndRemainder(totalWeight);
                shares.add(new Object[] {e.getKey(), qr[0].longValue(), qr[1]});
                stakerTotal += qr[0].longValue();
            }
            long left = pool - stakerTotal;
            shares.sort(Comparator.comparing((Object[] a) -> (BigInteger) a[2]).reversed().thenComparing(a -> (String) a[0]));
            for (int i = 0; i < shares.size() && left > 0; i++, left--) {
                shares.get(i)[1] = (long) shares.get(i)[1] + 1;
            }
            stakerTotal = pool;
            shares.sort(Comparator.comparing(a -> (String) a[0]));
            for (Object[] share : shares) {
                if ((long) share[1] > 0) {
                    payouts.add(new Payout("staker", (String) share[0], (long) share[1]));
                }
            }
        }
        long averageStake = totalWeight.divide(BigInteger.valueOf(end - start)).longValue();
        payouts.sort(Comparator.comparing(Payout::kind).thenComparing(Payout::recipient));
        List<byte[]> leaves = payouts.stream().map(p -> Merkle.leaf(day, p.kind(), p.recipient(), p.amount())).toList();
        return new Report(day, ledger.now(), fees, sold, offered, providerTotal, stakerTotal, averageStake, Merkle.root(leaves),
                payouts);
    }

    /** account → ∫ staked VVV dt over [start, end), in µVVV·µs, from the stake/unstake operations. */
    private static Map<String, BigInteger> stakeWeights(Connection c, long start, long end) throws SQLException {
        Map<String, long[]> state = new HashMap<>(); // account → {staked now, last change time}
        Map<String, BigInteger> weights = new HashMap<>();
        try (PreparedStatement s = c.prepareStatement("SELECT account_id, kind, amount, created_at FROM operations "
                + "WHERE kind IN ('stake_vvv', 'unstake_vvv') AND created_at < ? ORDER BY created_at, op_id")) {
            s.setLong(1, end);
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    String account = rs.getString(1);
                    long delta = rs.getString(2).equals("stake_vvv") ? rs.getLong(3) : -rs.getLong(3);
                    long at = Math.max(start, rs.getLong(4));
                    long[] st = state.computeIfAbsent(account, a -> new long[] {0, start});
                    weights.merge(account, BigInteger.valueOf(st[0]).multiply(BigInteger.valueOf(at - st[1])), BigInteger::add);
                    st[0] += delta;
                    st[1] = at;
                }
            }
        }
        for (Map.Entry<String, long[]> e : state.entrySet()) {
            long[] st = e.getValue();
            weights.merge(e.getKey(), BigInteger.valueOf(st[0]).multiply(BigInteger.valueOf(end - st[1])), BigInteger::add);
        }
        weights.values().removeIf(w -> w.signum() <= 0);
        return weights;
    }

    public Optional<Report> report(String epoch) {
        String day = parseEpoch(epoch);
        return ledger.tx(c -> read(c, day));
    }

    public List<Report> list() {
        return ledger.tx(c -> {
            List<String> days = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("SELECT epoch FROM epochs ORDER BY epoch DESC"); ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    days.add(rs.getString(1));
                }
            }
            List<Report> out = new ArrayList<>();
            for (String d : days) {
                out.add(read(c, d).orElseThrow());
            }
            return out;
        });
    }

    private static Optional<Report> read(Connection c, String day) throws SQLException {
        Report base;
        try (PreparedStatement s = c.prepareStatement("SELECT closed_at, fees, gpu_micros_sold, gpu_micros_offered, provider_payout, "
                + "staker_payout, average_vvv_staked, merkle_root_hex FROM epochs WHERE epoch = ?")) {
            s.setString(1, day);
            try (ResultSet rs = s.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                base = new Report(day, rs.getLong(1), rs.getLong(2), rs.getLong(3), rs.getLong(4), rs.getLong(5), rs.getLong(6),
                        rs.getLong(7), Hashes.unhex(rs.getString(8)), List.of());
            }
        }
        List<Payout> payouts = new ArrayList<>();
        try (PreparedStatement s = c.prepareStatement("SELECT kind, recipient, amount FROM payouts WHERE epoch = ? ORDER BY kind, recipient")) {
            s.setString(1, day);
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    payouts.add(new Payout(rs.getString(1), rs.getString(2), rs.getLong(3)));
                }
            }
        }
        return Optional.of(new Report(day, base.closedAt(), base.fees(), base.gpuMicrosSold(), base.gpuMicrosOffered(),
                base.providerPayout(), base.stakerPayout(), base.averageVvvStaked(), base.merkleRoot(), payouts));
    }

    /** The proof that {@code recipient}'s payout is in the epoch's root. */
    public Merkle.Proof proof(Report report, String recipient) {
        List<byte[]> leaves = report.payouts().stream().map(p -> Merkle.leaf(report.epoch(), p.kind(), p.recipient(), p.amount())).toList();
        for (int i = 0; i < report.payouts().size(); i++) {
            if (report.payouts().get(i).recipient().equals(recipient)) {
                return Merkle.proof(leaves, i);
            }
        }
        throw new LedgerException(Kind.NOT_FOUND, "no payout to '" + recipient + "' in epoch " + report.epoch());
    }
}
