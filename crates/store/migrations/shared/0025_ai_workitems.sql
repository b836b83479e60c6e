-- AIW-I work items (DICOM Unified Procedure Steps): what an AI node owes a study, as the
-- Task Manager schedules it and the node claims, reports progress on and completes it.
-- One per study and application; the events are the UPS-RS event channel's log.
CREATE TABLE ups_workitems (
    uid                  TEXT PRIMARY KEY,
    accession            TEXT NOT NULL,
    study_uid            TEXT,
    app                  TEXT NOT NULL,
    state                TEXT NOT NULL,
    transaction_uid      TEXT,
    progress             DOUBLE PRECISION,
    progress_description TEXT,
    cancel_requested_at  BIGINT,
    retries              BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    deadline_at          BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    reason               TEXT,
    UNIQUE (accession, app)
);
CREATE INDEX ups_workitems_due ON ups_workitems (state, deadline_at);
CREATE INDEX ups_workitems_by_app ON ups_workitems (app, state, created_at);

CREATE TABLE ups_events (
    id         BIGINT PRIMARY KEY,
    uid        TEXT NOT NULL,
    app        TEXT NOT NULL,
    at         BIGINT NOT NULL,
    event_type BIGINT NOT NULL,
    state      TEXT NOT NULL,
    progress   DOUBLE PRECISION,
    reason     TEXT
);

CREATE TABLE ups_subscriptions (
    ae_title   TEXT NOT NULL,
    target     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (ae_title, target)
);
