-- Status changes of AI register entries: by the RAIO through the API or the CLI, or by an
-- edit of the department file. The latest change per application is its status in force.
CREATE TABLE ai_status_changes (
    id          BIGINT PRIMARY KEY,
    app         TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    changed_by  TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX ai_status_changes_by_app ON ai_status_changes (app, id);
