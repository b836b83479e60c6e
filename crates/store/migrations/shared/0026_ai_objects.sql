-- What AI nodes send beside their reports (segmentations, parametric maps, secondary
-- captures): stored as instances and linked here to the study and, when the object names
-- a registered algorithm, to its application.
CREATE TABLE ai_objects (
    sop_uid     TEXT PRIMARY KEY,
    study_uid   TEXT NOT NULL,
    series_uid  TEXT NOT NULL,
    accession   TEXT NOT NULL,
    app         TEXT,
    kind        TEXT NOT NULL,
    sop_class   TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX ai_objects_by_accession ON ai_objects (accession, received_at);
