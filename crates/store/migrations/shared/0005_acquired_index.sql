-- The AI-wait sweep looks at recently acquired studies.
CREATE INDEX studies_by_acquired ON studies (acquired_at);
