-- A thesis's milestones as they happen: the work plan handed in, the mid-term held.
CREATE TABLE thesis_milestones (
    trainee     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    on_day      TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (trainee, kind)
);
