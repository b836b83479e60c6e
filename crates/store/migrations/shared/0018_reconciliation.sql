-- Received studies that could not be routed as they are (no order, an accession number or
-- UID the domain refuses): kept, listed with the reason until a later completion routes
-- them with their order.
CREATE TABLE reconciliation (
    study_uid   TEXT PRIMARY KEY,
    accession   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    instances   BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    resolved_at BIGINT
);
CREATE INDEX reconciliation_open ON reconciliation (resolved_at, at);
