package io.diem.gateway.ledger;

import io.diem.common.UnixMicros;
import io.diem.gateway.ledger.LedgerViews.Balance;
import java.time.Clock;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One gateway's credit leases, held in memory: each (account, key) that calls through this gateway
 * gets a lease ({@link CreditLeases}) sized to its recent demand, and each call's reservation is
 * carved from it without locking the account row. A lease that cannot cover a call is returned and
 * a fresh one taken; when the ledger cannot grant one (little credit left, or other gateways hold
 * it), the call falls back to an exact reservation ({@link Credit#reserve}), which refuses with the
 * figures. Leases are returned when idle for {@link Policy#idle}, after {@link Policy#useFor}, at the
 * day's end and on shutdown; a lease of a gateway that died expires in the ledger after
 * {@link Policy#lifetime}.
 */
public final class LeasedCredit {

    /**
     * @param lifetime a lease's life in the ledger: the bound on how long a crashed gateway's credit stays held
     * @param useFor how long this gateway carves from one lease before it takes a fresh one (less than lifetime)
     * @param idle a lease with no call for this long is returned
     * @param minCalls the smallest lease, in calls of the size that asked for it
     * @param maxCalls the largest lease, in calls
     */
    public record Policy(Duration lifetime, Duration useFor, Duration idle, int minCalls, int maxCalls) {

        public Policy {
            if (useFor.compareTo(lifetime) >= 0 || minCalls < 1 || maxCalls < minCalls) {
                throw new IllegalArgumentException("lease policy needs useFor < lifetime and 1 <= minCalls <= maxCalls");
            }
        }

        public static Policy defaults() {
            return lasting(Duration.ofSeconds(30));
        }

        /** Leases of {@code lifetime} (at least 3 s): used for two thirds of it, returned after 2 s idle (a third, if less). */
        public static Policy lasting(Duration lifetime) {
            if (lifetime.compareTo(Duration.ofSeconds(3)) < 0) {
                throw new IllegalArgumentException("a credit lease must last at least 3 s, got " + lifetime.toMillis() + " ms");
            }
            Duration third = lifetime.dividedBy(3);
            return new Policy(lifetime, lifetime.minus(third), third.compareTo(Duration.ofSeconds(2)) < 0 ? third : Duration.ofSeconds(2),
                    4, 256);
        }
    }

    /** The lease of one (account, key) on this gateway; guarded by its own monitor. */
    private static final class Slot {
        final String accountId;
        final String keyId;
        CreditLeases.Lease lease;
        long carved;
        int calls;
        int nextCalls;
        long lastUsed;
        boolean retired;

        Slot(String accountId, String keyId, int calls) {
            this.accountId = accountId;
            this.keyId = keyId;
            this.nextCalls = calls;
        }

        long unused() {
            return lease == null ? 0 : lease.granted() - carved;
        }
    }

    private final Credit credit;
    private final CreditLeases leases;
    private final String gatewayId;
    private final Clock clock;
    private final Policy policy;
    /** account id → key id ("" for none) → slot. */
    private final ConcurrentHashMap<String, ConcurrentHashMap<String, Slot>> slots = new ConcurrentHashMap<>();
    /** Leases found closed when a hold was recorded (expired by a sweep): their slots take a fresh one. */
    private final java.util.Set<String> closedUnderUs = ConcurrentHashMap.newKeySet();

    LeasedCredit(Credit credit, CreditLeases leases, String gatewayId, Clock clock, Policy policy) {
        this.credit = credit;
        this.leases = leases;
        this.gatewayId = gatewayId;
        this.clock = clock;
        this.policy = policy;
    }

    /**
     * Holds {@code amount} µUSD for call {@code callId}: carved in memory from this gateway's lease (written
     * with the call's first job, {@link #record}), or reserved exactly in the ledger at once when no lease
     * can cover it. Refused with RESOURCE_EXHAUSTED (nothing held) when the account or key cannot.
     */
    public CallHold hold(String callId, String accountId, String keyId, long amount) {
        if (amount > 0) {
            while (true) {
                Slot slot = slot(accountId, keyId);
                synchronized (slot) {
                    if (slot.retired) {
                        continue; // swept away meanwhile: take the fresh slot
                    }
                    CreditLeases.Lease from = carveInMemory(slot, amount);
                    if (from != null) {
                        return new CallHold(callId, accountId, keyId, amount, from);
                    }
                }
                break;
            }
        }
        credit.reserve(callId, accountId, keyId, amount);
        return new CallHold(callId, accountId, keyId, amount, null);
    }

    /**
     * Writes a carved hold's reservation inside the caller's transaction: carved from its lease, or,
     * when the lease closed meanwhile (expired by a sweep), reserved exactly (which may refuse).
     */
    void record(io.diem.gateway.store.Sql sql, CallHold hold) throws java.sql.SQLException {
        if (hold.recorded()) {
            return;
        }
        if (!leases.carve(sql, hold.lease, hold.callId(), hold.amount())) {
            closedUnderUs.add(hold.lease.leaseId()); // no slot monitor here: a thread holding one may wait for a connection
            credit.reserve(sql, hold.callId(), hold.accountId(), hold.keyId(), hold.amount());
        }
    }

    /** Gives an unrecorded hold back to its lease (the ledger never saw it); false when it is recorded. */
    boolean giveBack(CallHold hold) {
        if (hold.recorded()) {
            return false;
        }
        Slot slot = slot(hold.accountId(), hold.keyId());
        synchronized (slot) {
            if (slot.lease == hold.lease) {
                slot.carved -= hold.amount();
            }
        }
        return true;
    }

    private Slot slot(String accountId, String keyId) {
        return slots.computeIfAbsent(accountId, a -> new ConcurrentHashMap<>())
                .computeIfAbsent(keyId == null ? "" : keyId, k -> new Slot(accountId, keyId, policy.minCalls()));
    }

    /** Takes {@code amount} from the slot's lease, replacing the lease when it cannot cover it; null when no lease can. */
    private CreditLeases.Lease carveInMemory(Slot slot, long amount) {
        long now = UnixMicros.now(clock);
        if (slot.lease != null && closedUnderUs.remove(slot.lease.leaseId())) {
            slot.lease = null; // nothing to give back: it is closed
        }
        if (slot.lease != null && (!usable(slot.lease, now) || slot.unused() < amount)) {
            boolean ranOut = usable(slot.lease, now);
            slot.nextCalls = ranOut ? Math.min(policy.maxCalls(), slot.nextCalls * 2)
                    : Math.max(policy.minCalls(), Math.min(policy.maxCalls(), slot.calls));
            returnLease(slot); // before the grant, so that it sees this credit again
        }
        if (slot.lease == null) {
            long want = amount > Long.MAX_VALUE / slot.nextCalls ? amount : amount * slot.nextCalls;
            slot.lease = leases.grant("lease_" + gatewayId + "_" + UUID.randomUUID().toString().replace("-", ""), gatewayId,
                    slot.accountId, slot.keyId, want, amount, now + policy.lifetime().toNanos() / 1000).orElse(null);
            slot.carved = 0;
            slot.calls = 0;
            if (slot.lease == null) {
                return null;
            }
        }
        slot.carved += amount;
        slot.calls++;
        slot.lastUsed = now;
        return slot.lease;
    }

    /** Returns the slot's lease to the ledger and forgets it; the caller holds the slot's monitor. */
    private void returnLease(Slot slot) {
        leases.giveBack(slot.lease.leaseId());
        slot.lease = null;
    }

    /** Whether this gateway still carves from {@code lease}: its day, and younger than {@link Policy#useFor}. */
    private boolean usable(CreditLeases.Lease lease, long now) {
        long granted = lease.expiresAt() - policy.lifetime().toNanos() / 1000;
        return lease.day().equals(UnixMicros.day(now)) && now - granted < policy.useFor().toNanos() / 1000;
    }

    /**
     * {@code b} as this gateway knows it: the unused part of its own leases on the account is credit
     * the account can still spend here, so it counts as remaining rather than reserved. Other gateways'
     * leases still count as reserved, so the remaining figure never over-states.
     */
    public Balance adjust(Balance b) {
        var byKey = slots.get(b.accountId());
        if (byKey == null) {
            return b;
        }
        String day = UnixMicros.day(b.resetsAt().toEpochMilli() * 1000 - 1); // the balance's day
        long own = 0;
        for (Slot slot : byKey.values()) {
            synchronized (slot) {
                if (slot.lease != null && slot.lease.day().equals(day)) {
                    own += slot.unused();
                }
            }
        }
        own = Math.min(own, b.reserved());
        if (own == 0) {
            return b;
        }
        long reserved = b.reserved() - own;
        return new Balance(b.accountId(), b.allowance(), b.spent(), reserved, Math.max(0, b.allowance() - b.spent() - reserved),
                b.resetsAt());
    }

    /** Returns the leases idle for {@link Policy#idle}, past {@link Policy#useFor} or of an ended day; returns how many. */
    public int returnIdle() {
        long now = UnixMicros.now(clock);
        int returned = 0;
        for (var byKey : slots.values()) {
            for (var e : byKey.entrySet()) {
                Slot slot = e.getValue();
                synchronized (slot) {
                    if (slot.lease != null && (now - slot.lastUsed >= policy.idle().toNanos() / 1000 || !usable(slot.lease, now))) {
                        returnLease(slot);
                        slot.nextCalls = policy.minCalls();
                        returned++;
                    } else if (slot.lease == null && now - slot.lastUsed >= policy.idle().toNanos() / 1000) {
                        slot.retired = true;
                        byKey.remove(e.getKey(), slot);
                    }
                }
            }
        }
        closedUnderUs.clear(); // a slot still on such a lease finds it closed again when it next records a hold
        return returned;
    }

    /** Returns every lease this gateway holds (on shutdown); returns how many. */
    public int returnAll() {
        int returned = 0;
        for (var byKey : slots.values()) {
            for (Slot slot : byKey.values()) {
                synchronized (slot) {
                    if (slot.lease != null) {
                        returnLease(slot);
                        returned++;
                    }
                }
            }
        }
        return returned;
    }
}
