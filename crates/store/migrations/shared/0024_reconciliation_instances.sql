-- Received instances that were kept but could not be read as they came: an AI node's
-- structured report that does not match its application's declaration in the register
-- (unknown algorithm, missing score, wrong unit). Listed with the reason beside the
-- studies of `reconciliation` until the same instance is sent again and read.
CREATE TABLE reconciliation_instances (
    sop_uid     TEXT PRIMARY KEY,
    study_uid   TEXT NOT NULL,
    accession   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    at          BIGINT NOT NULL,
    resolved_at BIGINT
);
CREATE INDEX reconciliation_instances_open ON reconciliation_instances (resolved_at, at);
