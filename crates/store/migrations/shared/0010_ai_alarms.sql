-- Monitoring alarms on AI applications: raised by drift evaluation, cleared by the RAIO.
CREATE TABLE ai_alarms (
    id         TEXT PRIMARY KEY,
    app        TEXT NOT NULL,
    finding    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    day        TEXT NOT NULL,
    detail     TEXT NOT NULL,
    raised_at  BIGINT NOT NULL,
    cleared_at BIGINT,
    cleared_by TEXT,
    cleared_day TEXT
);
CREATE INDEX ai_alarms_by_app ON ai_alarms (app, cleared_at);
