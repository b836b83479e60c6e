-- AI monitoring: one row per study, application version and finding with the AI's call,
-- the study's strata, and once known the truth of the final report and the call of the
-- initial human report. The row-level record; metrics read the day cells below.
CREATE TABLE ai_calls (
    accession   TEXT NOT NULL,
    app         TEXT NOT NULL,
    version     TEXT NOT NULL,
    finding     TEXT NOT NULL,
    score       DOUBLE PRECISION,
    positive    INTEGER NOT NULL,
    acquired_at BIGINT NOT NULL,
    day         TEXT NOT NULL,
    month       TEXT NOT NULL,
    site        TEXT NOT NULL,
    scanner     TEXT NOT NULL,
    protocol    TEXT NOT NULL,
    truth       INTEGER,
    found_later INTEGER NOT NULL DEFAULT 0,
    human       INTEGER,
    PRIMARY KEY (accession, app, version, finding)
);
CREATE INDEX ai_calls_by_app ON ai_calls (app, acquired_at);

-- The calls counted per day and cell (every combination of stratum, call, truth and
-- human call), kept in step with ai_calls in the same transaction: metrics over millions
-- of calls read thousands of cells. -1 stands for "not known yet".
CREATE TABLE ai_call_days (
    app         TEXT NOT NULL,
    version     TEXT NOT NULL,
    finding     TEXT NOT NULL,
    day         TEXT NOT NULL,
    month       TEXT NOT NULL,
    site        TEXT NOT NULL,
    scanner     TEXT NOT NULL,
    protocol    TEXT NOT NULL,
    positive    INTEGER NOT NULL,
    truth       INTEGER NOT NULL,
    found_later INTEGER NOT NULL,
    human       INTEGER NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (app, day, version, finding, site, scanner, protocol, positive, truth, found_later, human)
);
