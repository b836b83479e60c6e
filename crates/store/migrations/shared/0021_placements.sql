-- Placement matching: each trainee's ranking for a programme's round, and the round's
-- result once matched. Rounds order by their id ("2026-1" before "2026-2").
CREATE TABLE placement_rankings (
    programme TEXT NOT NULL,
    round     TEXT NOT NULL,
    trainee   TEXT NOT NULL,
    ranked    TEXT NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (programme, round, trainee)
);

CREATE TABLE placement_matches (
    programme TEXT NOT NULL,
    round     TEXT NOT NULL,
    trainee   TEXT NOT NULL,
    placement TEXT NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (programme, round, trainee)
);
