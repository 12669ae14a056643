package io.diem.gateway.ledger;

/**
 * The credit held for one call. Either an exact reservation already in the ledger, or a slice carved
 * in memory from this gateway's lease that is written to the ledger together with the call's first
 * job record ({@link Ledger#recordingHold}), so that admitting a call costs no transaction of its own.
 * Until it is recorded nothing in the ledger refers to it, and releasing it only gives the slice back
 * to the lease.
 */
public final class CallHold {

    private final String callId;
    private final String accountId;
    private final String keyId;
    private final long amount;
    /** The lease it is carved from while not recorded; null for an exact reservation. */
    final CreditLeases.Lease lease;
    private volatile boolean recorded;

    CallHold(String callId, String accountId, String keyId, long amount, CreditLeases.Lease lease) {
        this.callId = callId;
        this.accountId = accountId;
        this.keyId = keyId;
        this.amount = amount;
        this.lease = lease;
        this.recorded = lease == null;
    }

    /** The reservation id: the call's id. */
    public String callId() {
        return callId;
    }

    public String accountId() {
        return accountId;
    }

    public String keyId() {
        return keyId;
    }

    /** µUSD held: the call's worst case. */
    public long amount() {
        return amount;
    }

    /** Whether the ledger holds its reservation. */
    public boolean recorded() {
        return recorded;
    }

    void markRecorded() {
        recorded = true;
    }
}
