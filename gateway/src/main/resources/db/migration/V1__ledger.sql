-- Ledger schema v1. Amounts are integer micro-units (µVVV, µDIEM, µUSD); instants are microseconds
-- since the Unix epoch (UTC); days are UTC days as YYYY-MM-DD text.

CREATE TABLE accounts (
    account_id            VARCHAR(40)  PRIMARY KEY,
    name                  VARCHAR(64)  NOT NULL,
    created_at            BIGINT       NOT NULL,
    vvv                   BIGINT       NOT NULL DEFAULT 0 CHECK (vvv >= 0),
    svvv                  BIGINT       NOT NULL DEFAULT 0 CHECK (svvv >= 0),
    svvv_locked           BIGINT       NOT NULL DEFAULT 0 CHECK (svvv_locked >= 0),
    vvv_unstaking         BIGINT       NOT NULL DEFAULT 0 CHECK (vvv_unstaking >= 0),
    vvv_unstaking_until   BIGINT       NOT NULL DEFAULT 0,
    diem                  BIGINT       NOT NULL DEFAULT 0 CHECK (diem >= 0),
    diem_staked           BIGINT       NOT NULL DEFAULT 0 CHECK (diem_staked >= 0),
    diem_unstaking        BIGINT       NOT NULL DEFAULT 0 CHECK (diem_unstaking >= 0),
    diem_unstaking_until  BIGINT       NOT NULL DEFAULT 0,
    diem_minted           BIGINT       NOT NULL DEFAULT 0 CHECK (diem_minted >= 0)
);

-- One row: the DIEM supply (sum of every account's minted DIEM).
CREATE TABLE ledger_state (
    id           INT     PRIMARY KEY CHECK (id = 1),
    diem_supply  BIGINT  NOT NULL CHECK (diem_supply >= 0)
);
INSERT INTO ledger_state (id, diem_supply) VALUES (1, 0);

CREATE TABLE api_keys (
    key_id           VARCHAR(40)  PRIMARY KEY,
    secret_sha256    VARCHAR(64)  NOT NULL UNIQUE,
    account_id       VARCHAR(40)  NOT NULL REFERENCES accounts (account_id),
    scope            VARCHAR(16)  NOT NULL CHECK (scope IN ('inference', 'admin')),
    daily_limit      BIGINT       NOT NULL DEFAULT 0 CHECK (daily_limit >= 0),
    label            VARCHAR(128) NOT NULL DEFAULT '',
    created_at       BIGINT       NOT NULL,
    revoked_at       BIGINT
);
CREATE INDEX api_keys_account ON api_keys (account_id);

-- What an account (and a key) has charged and holds reserved on one UTC day.
CREATE TABLE account_days (
    account_id  VARCHAR(40)  NOT NULL REFERENCES accounts (account_id),
    utc_day     VARCHAR(10)  NOT NULL,
    spent       BIGINT       NOT NULL DEFAULT 0 CHECK (spent >= 0),
    reserved    BIGINT       NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    PRIMARY KEY (account_id, utc_day)
);
CREATE TABLE key_days (
    key_id    VARCHAR(40)  NOT NULL REFERENCES api_keys (key_id),
    utc_day     VARCHAR(10)  NOT NULL,
    spent     BIGINT       NOT NULL DEFAULT 0 CHECK (spent >= 0),
    reserved  BIGINT       NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    PRIMARY KEY (key_id, utc_day)
);

-- Pending transfers: the worst-case cost of a job, held until posted (charged) or voided.
CREATE TABLE reservations (
    reservation_id  VARCHAR(64)  PRIMARY KEY,
    account_id      VARCHAR(40)  NOT NULL REFERENCES accounts (account_id),
    key_id          VARCHAR(40),
    utc_day     VARCHAR(10)  NOT NULL,
    amount          BIGINT       NOT NULL CHECK (amount >= 0),
    state           VARCHAR(10)  NOT NULL CHECK (state IN ('pending', 'posted', 'voided', 'expired')),
    posted_amount   BIGINT       NOT NULL DEFAULT 0,
    created_at      BIGINT       NOT NULL,
    expires_at      BIGINT       NOT NULL,
    settled_at      BIGINT
);
CREATE INDEX reservations_pending ON reservations (state, expires_at);

-- One row per charged job; job_id is unique, so booking is idempotent.
CREATE TABLE usage_records (
    job_id             VARCHAR(64)  PRIMARY KEY,
    account_id         VARCHAR(40)  NOT NULL REFERENCES accounts (account_id),
    key_id             VARCHAR(40),
    model              VARCHAR(128) NOT NULL,
    node_id            VARCHAR(64)  NOT NULL,
    prompt_tokens      BIGINT       NOT NULL,
    completion_tokens  BIGINT       NOT NULL,
    gpu_micros         BIGINT       NOT NULL,
    compute_kind       VARCHAR(8)   NOT NULL,
    cost               BIGINT       NOT NULL CHECK (cost >= 0),
    finish_reason      VARCHAR(24)  NOT NULL,
    utc_day     VARCHAR(10)  NOT NULL,
    booked_at          BIGINT       NOT NULL
);
CREATE INDEX usage_records_account ON usage_records (account_id, booked_at, job_id);

CREATE TABLE model_prices (
    model                    VARCHAR(128) PRIMARY KEY,
    prompt_per_million       BIGINT       NOT NULL CHECK (prompt_per_million >= 0),
    completion_per_million   BIGINT       NOT NULL CHECK (completion_per_million >= 0),
    per_gpu_second           BIGINT       NOT NULL CHECK (per_gpu_second >= 0),
    updated_at               BIGINT       NOT NULL
);

-- Every balance change, in order: what happened, to whom, how much. op_id makes retries no-ops.
CREATE TABLE operations (
    op_id       VARCHAR(64)  PRIMARY KEY,
    account_id  VARCHAR(40)  NOT NULL,
    kind        VARCHAR(24)  NOT NULL,
    amount      BIGINT       NOT NULL,
    detail      VARCHAR(256) NOT NULL DEFAULT '',
    created_at  BIGINT       NOT NULL
);
CREATE INDEX operations_account ON operations (account_id, created_at);
