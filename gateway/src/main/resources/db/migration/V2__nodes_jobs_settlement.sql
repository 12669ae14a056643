-- Nodes, dispatched jobs, receipt booking and epoch settlement.

CREATE TABLE nodes (
    node_id            VARCHAR(64)   PRIMARY KEY,
    public_key_hex     VARCHAR(64)   NOT NULL,
    endpoint           VARCHAR(256)  NOT NULL,
    state              VARCHAR(10)   NOT NULL CHECK (state IN ('pending', 'approved', 'revoked')),
    flag_reason        VARCHAR(256),
    models_json        VARCHAR(8000) NOT NULL DEFAULT '[]',
    engine             VARCHAR(16)   NOT NULL DEFAULT '',
    agent_version      VARCHAR(64)   NOT NULL DEFAULT '',
    registered_at      BIGINT        NOT NULL,
    last_heartbeat_at  BIGINT        NOT NULL DEFAULT 0,
    running            INT           NOT NULL DEFAULT 0,
    queued             INT           NOT NULL DEFAULT 0,
    gpus_online        INT           NOT NULL DEFAULT 0,
    acked_sequence     BIGINT        NOT NULL DEFAULT 0,
    acked_hash_hex     VARCHAR(64)   NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000'
);

-- Compute offered by a node on a UTC day (devices online x time between heartbeats), microseconds.
CREATE TABLE node_days (
    node_id        VARCHAR(64)  NOT NULL REFERENCES nodes (node_id),
    utc_day        VARCHAR(10)  NOT NULL,
    offered_micros BIGINT       NOT NULL DEFAULT 0,
    PRIMARY KEY (node_id, utc_day)
);

-- Every ticket this gateway issued. A receipt is booked only against its job.
CREATE TABLE jobs (
    job_id               VARCHAR(64)  PRIMARY KEY,
    reservation_id       VARCHAR(64)  NOT NULL,
    account_id           VARCHAR(40)  NOT NULL,
    key_id               VARCHAR(40),
    node_id              VARCHAR(64)  NOT NULL,
    model                VARCHAR(128) NOT NULL,
    max_prompt_tokens    BIGINT       NOT NULL,
    max_completion_tokens BIGINT      NOT NULL,
    gpu_micros_limit     BIGINT       NOT NULL,
    issued_at            BIGINT       NOT NULL,
    -- dispatched: running or awaiting its receipt; abandoned: failed before its first token (retried
    -- elsewhere, never charged); booked: charged from its receipt; settled_relayed: charged from what
    -- the gateway relayed (no or implausible receipt).
    state                VARCHAR(16)  NOT NULL CHECK (state IN ('dispatched', 'abandoned', 'booked', 'settled_relayed')),
    stream_complete      BOOLEAN      NOT NULL DEFAULT FALSE,
    relayed_prompt       BIGINT       NOT NULL DEFAULT 0,
    relayed_completion   BIGINT       NOT NULL DEFAULT 0,
    relayed_at           BIGINT       NOT NULL DEFAULT 0
);
CREATE INDEX jobs_state ON jobs (state, relayed_at);

-- Which epoch a charge settles in (its day, or the booking day if that day was already closed),
-- and whether the node that ran it is paid.
ALTER TABLE usage_records ADD COLUMN epoch VARCHAR(10);
ALTER TABLE usage_records ADD COLUMN node_paid BOOLEAN NOT NULL DEFAULT TRUE;
UPDATE usage_records SET epoch = utc_day;
CREATE INDEX usage_records_epoch ON usage_records (epoch);

CREATE TABLE epochs (
    epoch                     VARCHAR(10)  PRIMARY KEY,
    closed_at                 BIGINT       NOT NULL,
    fees                      BIGINT       NOT NULL,
    gpu_micros_sold           BIGINT       NOT NULL,
    gpu_micros_offered        BIGINT       NOT NULL,
    provider_payout           BIGINT       NOT NULL,
    staker_payout             BIGINT       NOT NULL,
    average_vvv_staked        BIGINT       NOT NULL,
    merkle_root_hex           VARCHAR(64)  NOT NULL
);

CREATE TABLE payouts (
    epoch      VARCHAR(10)  NOT NULL REFERENCES epochs (epoch),
    kind       VARCHAR(10)  NOT NULL CHECK (kind IN ('provider', 'staker')),
    recipient  VARCHAR(64)  NOT NULL,
    amount     BIGINT       NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (epoch, kind, recipient)
);

-- The secret every gateway sharing this ledger derives node ticket keys from (made on first start).
CREATE TABLE gateway_secret (
    id          INT          PRIMARY KEY CHECK (id = 1),
    secret_hex  VARCHAR(64)  NOT NULL
);
