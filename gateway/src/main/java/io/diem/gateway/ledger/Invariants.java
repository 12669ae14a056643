package io.diem.gateway.ledger;

import io.diem.gateway.store.Tx;
import java.util.ArrayList;
import java.util.List;

/**
 * Every invariant of the ledger, checked over the whole database: DIEM supply equals what was minted
 * and what is held; no negative balance; reserved credit equals the pending reservations plus the
 * uncarved part of open credit leases, and spent
 * credit the booked charges, per account and day; a closed epoch's fees equal the charges tagged
 * with it. Used by tests after every operation and available
 * to operators.
 */
public final class Invariants {

    private final Tx tx;

    public Invariants(Tx tx) {
        this.tx = tx;
    }

    /** The invariants that do not hold; empty when all do. */
    public List<String> violations() {
        return tx.run(sql -> {
            List<String> problems = new ArrayList<>();
            long supply = Accounts.supply(sql, false);
            long minted = sql.number("SELECT COALESCE(SUM(diem_minted), 0) FROM accounts");
            long held = sql.number("SELECT COALESCE(SUM(diem + diem_staked + diem_unstaking), 0) FROM accounts");
            if (minted != supply) {
                problems.add("supply " + supply + " != sum of minted " + minted);
            }
            if (held != supply) {
                problems.add("supply " + supply + " != sum of DIEM balances " + held);
            }
            for (String account : sql.list("SELECT account_id FROM accounts WHERE (diem_minted = 0 AND svvv_locked <> 0) "
                    + "OR vvv < 0 OR svvv < 0 OR svvv_locked < 0 OR diem < 0 OR diem_staked < 0", rs -> rs.getString(1))) {
                problems.add("account " + account + " has negative balances or sVVV locked without minted DIEM");
            }
            // reserved = pending reservations (carved from a lease or not) + the uncarved part of open leases
            problems.addAll(sql.list("SELECT d.account_id, d.utc_day, d.reserved, "
                    + "(SELECT COALESCE(SUM(r.amount), 0) FROM reservations r WHERE r.account_id = d.account_id "
                    + "AND r.utc_day = d.utc_day AND r.state = 'pending'), "
                    + "(SELECT COALESCE(SUM(l.granted - l.carved), 0) FROM credit_leases l WHERE l.account_id = d.account_id "
                    + "AND l.utc_day = d.utc_day AND l.state = 'open') FROM account_days d",
                    rs -> rs.getLong(3) == rs.getLong(4) + rs.getLong(5) ? null
                            : "account " + rs.getString(1) + " on " + rs.getString(2) + ": reserved " + rs.getLong(3)
                                    + " != pending reservations " + rs.getLong(4) + " + open leases " + rs.getLong(5)));
            problems.addAll(sql.list("SELECT d.account_id, d.utc_day, d.spent, COALESCE(SUM(u.cost), 0) FROM account_days d "
                    + "LEFT JOIN usage_records u ON u.account_id = d.account_id AND u.utc_day = d.utc_day "
                    + "GROUP BY d.account_id, d.utc_day, d.spent", rs -> rs.getLong(3) == rs.getLong(4) ? null
                            : "account " + rs.getString(1) + " on " + rs.getString(2) + ": spent " + rs.getLong(3)
                                    + " != booked charges " + rs.getLong(4)));
            problems.addAll(sql.list("SELECT e.epoch, e.fees, COALESCE(SUM(u.cost), 0) FROM epochs e LEFT JOIN usage_records u "
                    + "ON u.epoch = e.epoch GROUP BY e.epoch, e.fees", rs -> rs.getLong(2) == rs.getLong(3) ? null
                            : "closed epoch " + rs.getString(1) + ": fees " + rs.getLong(2) + " != charges tagged with it "
                                    + rs.getLong(3)));
            problems.removeIf(p -> p == null);
            return problems;
        });
    }
}
