-- radgate schema v1 (PostgreSQL). Times are milliseconds since the Unix epoch (UTC).
-- Domain objects are stored whole as JSON next to the columns that queries need.
CREATE TABLE orders (
    accession   TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    body        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE studies (
    accession   TEXT PRIMARY KEY,
    study_uid   TEXT UNIQUE,
    body        TEXT NOT NULL,
    acquired_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);

CREATE TABLE ai_results (
    id          TEXT PRIMARY KEY,
    accession   TEXT NOT NULL,
    app         TEXT NOT NULL,
    body        TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX ai_results_by_accession ON ai_results (accession, received_at);

CREATE TABLE decisions (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    accession      TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    rule           TEXT,
    body           TEXT NOT NULL,
    decided_at     BIGINT NOT NULL
);
CREATE INDEX decisions_by_accession ON decisions (accession, id);

CREATE TABLE work_items (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    accession   TEXT NOT NULL,
    decision_id BIGINT NOT NULL REFERENCES decisions (id),
    task        TEXT NOT NULL,
    pathway     TEXT NOT NULL,
    priority    BIGINT NOT NULL,
    due         BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    state       TEXT NOT NULL,
    assignee    TEXT
);
CREATE INDEX work_items_worklist ON work_items (state, task, priority, due, created_at, id);
CREATE INDEX work_items_by_accession ON work_items (accession);

CREATE TABLE audit_events (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
