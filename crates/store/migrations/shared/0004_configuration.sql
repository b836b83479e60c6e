-- The department's configuration as the service last started with it, and every policy
-- version it has routed with (a version is immutable once recorded).
CREATE TABLE professionals (
    id         TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE task_agreements (
    id         TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE ai_applications (
    id         TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE policies (
    version     TEXT PRIMARY KEY,
    body        TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
