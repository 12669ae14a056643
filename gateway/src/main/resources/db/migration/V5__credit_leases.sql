-- Credit leases: a slice of one account's (and key's) credit for one UTC day, debited from
-- account_days.reserved (and key_days.reserved) when granted, so that a gateway can admit calls
-- against it in memory. Each call still gets a pending reservation, "carved" from the lease: carving
-- moves nothing between counters (the lease holds that credit already) and counts into carved.
-- Returning or expiring a lease gives back granted - carved; the carved reservations then post,
-- void or expire like any other. Hence reserved = pending reservations + (granted - carved) of open leases.
CREATE TABLE credit_leases (
    lease_id    VARCHAR(64)  PRIMARY KEY,
    gateway_id  VARCHAR(16)  NOT NULL,
    account_id  VARCHAR(40)  NOT NULL REFERENCES accounts (account_id),
    key_id      VARCHAR(40),
    utc_day     VARCHAR(10)  NOT NULL,
    granted     BIGINT       NOT NULL CHECK (granted >= 0),
    carved      BIGINT       NOT NULL DEFAULT 0 CHECK (carved >= 0 AND carved <= granted),
    state       VARCHAR(10)  NOT NULL CHECK (state IN ('open', 'returned', 'expired')),
    created_at  BIGINT       NOT NULL,
    expires_at  BIGINT       NOT NULL,
    closed_at   BIGINT
);
CREATE INDEX credit_leases_open ON credit_leases (state, expires_at);
CREATE INDEX credit_leases_gateway ON credit_leases (gateway_id, state);

ALTER TABLE reservations ADD COLUMN lease_id VARCHAR(64);
