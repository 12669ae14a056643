-- Receipts a node failed to send while it was up, and the suspension they lead to: a node with too
-- many in the last hour takes no jobs until suspended_until (µs since the epoch), then returns by itself.
ALTER TABLE nodes ADD COLUMN suspended_until BIGINT NOT NULL DEFAULT 0;

CREATE TABLE node_misses (
    job_id     VARCHAR(64)  PRIMARY KEY,
    node_id    VARCHAR(64)  NOT NULL,
    missed_at  BIGINT       NOT NULL
);
CREATE INDEX node_misses_node ON node_misses (node_id, missed_at);
