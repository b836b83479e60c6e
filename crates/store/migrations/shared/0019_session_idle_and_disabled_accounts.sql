-- Sessions end after an idle time besides their absolute expiry; an account can be
-- disabled, which ends its sessions and refuses its logins.
ALTER TABLE sessions ADD COLUMN last_seen BIGINT;
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
