-- Received DICOM instances (the file is the durable copy; this row indexes it) and the
-- studies they make up, with when the last instance came and whether the study was
-- completed (routed) since.
CREATE TABLE dicom_instances (
    sop_uid     TEXT PRIMARY KEY,
    study_uid   TEXT NOT NULL,
    series_uid  TEXT NOT NULL,
    path        TEXT NOT NULL,
    meta        TEXT NOT NULL,
    calling_ae  TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX dicom_instances_by_study ON dicom_instances (study_uid, received_at);

CREATE TABLE dicom_studies (
    study_uid    TEXT PRIMARY KEY,
    first_at     BIGINT NOT NULL,
    last_at      BIGINT NOT NULL,
    instances    BIGINT NOT NULL,
    completed_at BIGINT,
    completions  BIGINT NOT NULL DEFAULT 0,
    problem      TEXT
);
CREATE INDEX dicom_studies_open ON dicom_studies (completed_at, last_at);
