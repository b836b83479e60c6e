-- Discrepancy grades given at authorization, and notifications to people.
CREATE TABLE discrepancies (
    accession TEXT PRIMARY KEY,
    author    TEXT NOT NULL,
    task      TEXT NOT NULL,
    grade     BIGINT NOT NULL,
    graded_by TEXT NOT NULL,
    at        BIGINT NOT NULL
);
CREATE INDEX discrepancies_by_author ON discrepancies (author, task, at);

CREATE TABLE notifications (
    recipient TEXT NOT NULL,
    at        BIGINT NOT NULL,
    text      TEXT NOT NULL
);
CREATE INDEX notifications_by_recipient ON notifications (recipient, at);
