-- AI pilots: the declaration (expected effects and periods, immutable once recorded) and
-- the one decision that ends it.
CREATE TABLE pilots (
    id          TEXT PRIMARY KEY,
    app         TEXT NOT NULL,
    body        TEXT NOT NULL,
    declared_at BIGINT NOT NULL
);

CREATE TABLE pilot_decisions (
    pilot   TEXT PRIMARY KEY REFERENCES pilots (id),
    outcome TEXT NOT NULL,
    body    TEXT NOT NULL,
    at      BIGINT NOT NULL
);
