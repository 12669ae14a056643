package io.diem.gateway.settlement;

import io.diem.common.UnixMicros;
import io.diem.gateway.error.GatewayException.Kind;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.ledger.EpochReport.Payout;
import io.diem.gateway.ledger.EpochReport.Recipient;
import io.diem.gateway.ledger.EpochReport;
import io.diem.gateway.ledger.Epochs;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.Operations;
import io.diem.gateway.ledger.UsageLog;
import io.diem.gateway.nodes.NodeDays;
import io.diem.gateway.store.Sql;
import io.diem.gateway.store.Tx;
import java.math.BigInteger;
import java.sql.SQLException;
import java.time.LocalDate;
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

    /** A staker's exact share before rounding: {@code floor} µUSD plus {@code remainder / totalWeight}. */
    private record Share(String recipient, long floor, BigInteger remainder) {}

    /** An account's staked VVV and when it last changed, while integrating stake over the day. */
    private static final class Stake {
        long staked;
        long since;

        Stake(long since) {
            this.since = since;
        }
    }

    private final Ledger ledger;
    private final Tx tx;
    private final int providerBps;

    /** @param providerBps providers' share of fees in basis points (default 7000 = 70 %) */
    public Settlement(Ledger ledger, int providerBps) {
        if (providerBps < 0 || providerBps > 10_000) {
            throw new IllegalArgumentException("provider share must be 0..10000 basis points, got " + providerBps);
        }
        this.ledger = ledger;
        this.tx = ledger.tx();
        this.providerBps = providerBps;
    }

    /** A UTC day written YYYY-MM-DD, from 1970-01-01 on (no charge can be older). */
    public static String parseEpoch(String epoch) {
        String shown = epoch == null ? "" : epoch.length() > 40 ? epoch.substring(0, 40) + "…" : epoch;
        if (epoch == null || !epoch.matches("\\d{4}-\\d{2}-\\d{2}")) {
            throw new GatewayException(Kind.INVALID_ARGUMENT, "epoch must be a UTC day YYYY-MM-DD, got '" + shown + "'");
        }
        LocalDate day;
        try {
            day = LocalDate.parse(epoch);
        } catch (DateTimeParseException e) {
            throw new GatewayException(Kind.INVALID_ARGUMENT, "epoch must be a UTC day YYYY-MM-DD, got '" + shown + "'");
        }
        if (day.isBefore(LocalDate.EPOCH)) {
            throw new GatewayException(Kind.INVALID_ARGUMENT, "epoch " + epoch + " is before 1970-01-01; no charge is that old");
        }
        return day.toString();
    }

    /** Closes {@code epoch} (a day that has ended), or returns its report if it is closed already. */
    public EpochReport close(String epoch) {
        String day = parseEpoch(epoch);
        String today = UnixMicros.day(ledger.now());
        if (day.compareTo(today) >= 0) {
            throw new GatewayException(Kind.FAILED_PRECONDITION, "epoch " + day + " has not ended (today is " + today + " UTC)");
        }
        // Insert if absent: a gateway that loses the race to close the same day reads the winner's report on the retry.
        return tx.runRetryingDuplicateKey(sql -> {
            Epochs.lock(sql, day); // no charge is tagged with this day while it closes
            Optional<EpochReport> existing = Epochs.read(sql, day);
            if (existing.isPresent()) {
                return existing.get();
            }
            EpochReport report = compute(sql, day);
            Epochs.insert(sql, report);
            return report;
        });
    }

    private EpochReport compute(Sql sql, String day) throws SQLException {
        long fees = 0;
        long sold = 0;
        Map<String, Long> byNode = new LinkedHashMap<>();
        for (UsageLog.EpochCharge c : UsageLog.epochCharges(sql, day)) {
            fees += c.cost();
            if (c.nodePaid()) {
                byNode.merge(c.nodeId(), c.cost(), Long::sum);
                if (c.computeKind().equals("gpu")) {
                    sold += c.gpuMicros();
                }
            }
        }
        long offered = NodeDays.offeredMicros(sql, day);
        List<Payout> payouts = new ArrayList<>();
        long providerTotal = 0;
        for (Map.Entry<String, Long> e : byNode.entrySet()) {
            long amount = e.getValue() * providerBps / 10_000;
            providerTotal += amount;
            payouts.add(new Payout(Recipient.PROVIDER, e.getKey(), amount));
        }
        long pool = fees - providerTotal;
        long start = UnixMicros.startOfDay(day);
        long end = start + UnixMicros.PER_DAY;
        Map<String, BigInteger> weights = stakeWeights(sql, start, end);
        BigInteger totalWeight = weights.values().stream().reduce(BigInteger.ZERO, BigInteger::add);
        long stakerTotal = 0;
        if (totalWeight.signum() > 0 && pool > 0) {
            List<Share> shares = new ArrayList<>();
            for (Map.Entry<String, BigInteger> e : weights.entrySet()) {
                BigInteger[] qr = BigInteger.valueOf(pool).multiply(e.getValue()).divideAndRemainder(totalWeight);
                shares.add(new Share(e.getKey(), qr[0].longValue(), qr[1]));
                stakerTotal += qr[0].longValue();
            }
            long left = pool - stakerTotal;
            shares.sort(Comparator.comparing(Share::remainder).reversed().thenComparing(Share::recipient));
            for (int i = 0; i < shares.size() && left > 0; i++, left--) {
                Share s = shares.get(i);
                shares.set(i, new Share(s.recipient(), s.floor() + 1, s.remainder()));
            }
            stakerTotal = pool;
            shares.sort(Comparator.comparing(Share::recipient));
            for (Share share : shares) {
                if (share.floor() > 0) {
                    payouts.add(new Payout(Recipient.STAKER, share.recipient(), share.floor()));
                }
            }
        }
        long averageStake = totalWeight.divide(BigInteger.valueOf(end - start)).longValue();
        payouts.sort(Comparator.comparing((Payout p) -> p.kind().column()).thenComparing(Payout::recipient));
        return new EpochReport(day, ledger.now(), fees, sold, offered, providerTotal, stakerTotal, averageStake,
                Merkle.root(leaves(day, payouts)), payouts);
    }

    /** account → ∫ staked VVV dt over [start, end), in µVVV·µs, from the stake/unstake operations. */
    private static Map<String, BigInteger> stakeWeights(Sql sql, long start, long end) throws SQLException {
        Map<String, Stake> state = new HashMap<>();
        Map<String, BigInteger> weights = new HashMap<>();
        for (Operations.StakeChange change : Operations.vvvStakeChanges(sql, end)) {
            long at = Math.max(start, change.at());
            Stake st = state.computeIfAbsent(change.accountId(), a -> new Stake(start));
            weights.merge(change.accountId(), BigInteger.valueOf(st.staked).multiply(BigInteger.valueOf(at - st.since)),
                    BigInteger::add);
            st.staked += change.delta();
            st.since = at;
        }
        for (Map.Entry<String, Stake> e : state.entrySet()) {
            Stake st = e.getValue();
            weights.merge(e.getKey(), BigInteger.valueOf(st.staked).multiply(BigInteger.valueOf(end - st.since)), BigInteger::add);
        }
        weights.values().removeIf(w -> w.signum() <= 0);
        return weights;
    }

    public Optional<EpochReport> report(String epoch) {
        String day = parseEpoch(epoch);
        return tx.run(sql -> Epochs.read(sql, day));
    }

    public List<EpochReport> list() {
        return tx.run(Epochs::list);
    }

    /** The proof that {@code recipient}'s payout is in the epoch's root. */
    public Merkle.Proof proof(EpochReport report, String recipient) {
        List<byte[]> leaves = leaves(report.epoch(), report.payouts());
        for (int i = 0; i < report.payouts().size(); i++) {
            if (report.payouts().get(i).recipient().equals(recipient)) {
                return Merkle.proof(leaves, i);
            }
        }
        throw new GatewayException(Kind.NOT_FOUND, "no payout to '" + recipient + "' in epoch " + report.epoch());
    }

    private static List<byte[]> leaves(String epoch, List<Payout> payouts) {
        return payouts.stream().map(p -> Merkle.leaf(epoch, p.kind().column(), p.recipient(), p.amount())).toList();
    }
}
