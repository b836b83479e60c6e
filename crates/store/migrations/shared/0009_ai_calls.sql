-- AI monitoring: one row per study, application version and finding with the AI's call,
-- the study's strata, and once known the truth of the final report and the call of the
-- initial human report. Denormalised so that metrics are one indexed aggregation.
CREATE TABLE ai_calls (
    accession   TEXT NOT NULL,
    app         TEXT NOT NULL,
    version     TEXT NOT NULL,
    finding     TEXT NOT NULL,
    score       DOUBLE PRECISION,
    positive    INTEGER NOT NULL,
    acquired_at BIGINT NOT NULL,
    month       TEXT NOT NULL,
    site        TEXT NOT NULL,
    scanner     TEXT NOT NULL,
    protocol    TEXT NOT NULL,
    truth       INTEGER,
    found_later INTEGER NOT NULL DEFAULT 0,
    human       INTEGER,
    PRIMARY KEY (accession, app, version, finding)
);
CREATE INDEX ai_calls_monitor ON ai_calls (app, acquired_at, version, finding, positive, truth, found_later, human);
