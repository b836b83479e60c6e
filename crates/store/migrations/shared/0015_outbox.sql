-- Messages radgate owes other systems (ORU^R01 to the RIS), written in the transaction
-- that made them due and deleted never: sent_at marks delivery, next_at the next try.
CREATE TABLE outbox (
    id          BIGINT PRIMARY KEY,
    destination TEXT NOT NULL,
    accession   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    next_at     BIGINT NOT NULL,
    sent_at     BIGINT,
    last_error  TEXT
);
CREATE INDEX outbox_due ON outbox (destination, sent_at, id);
