-- The competence portfolio: assessments (KKB), certificates, suspensions.
CREATE TABLE assessments (
    id       TEXT PRIMARY KEY,
    assessee TEXT NOT NULL,
    task     TEXT NOT NULL,
    date     TEXT NOT NULL,
    body     TEXT NOT NULL
);
CREATE INDEX assessments_by_assessee ON assessments (assessee, task);

CREATE TABLE certificates (
    holder      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    PRIMARY KEY (holder, kind, valid_until)
);

CREATE TABLE suspensions (
    professional TEXT NOT NULL,
    task         TEXT NOT NULL,
    since        TEXT NOT NULL,
    body         TEXT NOT NULL,
    PRIMARY KEY (professional, task, since)
);
