-- Retrospective reviews of exams a gatekeeper cleared or an AI called normal: one per
-- exam, with the task the clearance stood for and who (or which AI) cleared it.
CREATE TABLE safety_reviews (
    accession  TEXT PRIMARY KEY,
    task       TEXT NOT NULL,
    pathway    TEXT NOT NULL,
    cleared_by TEXT NOT NULL,
    reviewer   TEXT NOT NULL,
    missed     BIGINT NOT NULL,
    note       TEXT NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX safety_reviews_by_task ON safety_reviews (task, at);
