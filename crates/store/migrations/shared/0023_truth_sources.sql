-- Issue 15: the truth of an AI call can come from the radiologist's feedback at sign-off,
-- an adjudication, the report's coded findings or the labeller's reading of the report
-- text; each call records which, and metrics can be filtered by it.
ALTER TABLE ai_calls ADD COLUMN truth_source TEXT NOT NULL DEFAULT '';
UPDATE ai_calls SET truth_source = 'coded' WHERE truth IS NOT NULL;

-- The day cells gain the source as part of their key; rebuilt from the calls.
CREATE TABLE ai_call_days_v2 (
    app          TEXT NOT NULL,
    version      TEXT NOT NULL,
    finding      TEXT NOT NULL,
    day          TEXT NOT NULL,
    month        TEXT NOT NULL,
    site         TEXT NOT NULL,
    scanner      TEXT NOT NULL,
    protocol     TEXT NOT NULL,
    positive     INTEGER NOT NULL,
    truth        INTEGER NOT NULL,
    found_later  INTEGER NOT NULL,
    human        INTEGER NOT NULL,
    truth_source TEXT NOT NULL DEFAULT '',
    n            BIGINT NOT NULL,
    PRIMARY KEY (app, day, version, finding, site, scanner, protocol, positive, truth, found_later, human, truth_source)
);
INSERT INTO ai_call_days_v2 (app, version, finding, day, month, site, scanner, protocol, positive, truth, found_later, human, truth_source, n)
SELECT app, version, finding, day, month, site, scanner, protocol, positive, COALESCE(truth, -1), found_later, COALESCE(human, -1), truth_source, COUNT(*)
FROM ai_calls
GROUP BY app, version, finding, day, month, site, scanner, protocol, positive, COALESCE(truth, -1), found_later, COALESCE(human, -1), truth_source;
DROP TABLE ai_call_days;
ALTER TABLE ai_call_days_v2 RENAME TO ai_call_days;

-- The signing radiologist's verdict on each AI call, given with the signature.
CREATE TABLE report_feedback (
    accession TEXT NOT NULL,
    app       TEXT NOT NULL,
    finding   TEXT NOT NULL,
    verdict   TEXT NOT NULL,
    comment   TEXT,
    given_by  TEXT NOT NULL,
    given_at  BIGINT NOT NULL,
    PRIMARY KEY (accession, app, finding)
);

-- Reports written in the RIS, as received (HL7 ORU^R01, FHIR DiagnosticReport); a copy
-- of one already stored (same status and text) is not stored twice.
CREATE TABLE external_reports (
    accession   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    identity    TEXT NOT NULL,
    status      TEXT NOT NULL,
    body        TEXT NOT NULL,
    signer      TEXT,
    issued_at   BIGINT,
    received_at BIGINT NOT NULL,
    received_by TEXT NOT NULL,
    PRIMARY KEY (accession, seq),
    UNIQUE (accession, identity)
);

-- What the labeller read in a final report text: origin 'radgate' (seq 0 the authorized
-- text, then each addendum) or 'ris' (seq of external_reports).
CREATE TABLE report_labels (
    accession   TEXT NOT NULL,
    origin      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    finding     TEXT NOT NULL,
    label       TEXT NOT NULL,
    version     TEXT NOT NULL,
    sentence    TEXT,
    cue         TEXT,
    labelled_at BIGINT NOT NULL,
    PRIMARY KEY (accession, origin, seq, finding)
);

-- Findings a radiologist must decide; once answered, the answer is the truth.
CREATE TABLE adjudications (
    accession   TEXT NOT NULL,
    finding     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    opened_at   BIGINT NOT NULL,
    present     INTEGER,
    comment     TEXT,
    answered_by TEXT,
    answered_at BIGINT,
    PRIMARY KEY (accession, finding)
);
CREATE INDEX adjudications_by_opened ON adjudications (opened_at);
