-- Reports: the current state whole as JSON, and every version as its own row.
CREATE TABLE reports (
    accession  TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    author     TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE report_versions (
    accession TEXT NOT NULL REFERENCES reports (accession),
    number    BIGINT NOT NULL,
    act       TEXT NOT NULL,
    state     TEXT NOT NULL,
    signer    TEXT NOT NULL,
    role      TEXT NOT NULL,
    agreement TEXT,
    at        BIGINT NOT NULL,
    body      TEXT NOT NULL,
    PRIMARY KEY (accession, number)
);
