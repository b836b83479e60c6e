-- The ordered priority of the study, for turnaround per application and priority.
ALTER TABLE ai_calls ADD COLUMN priority TEXT NOT NULL DEFAULT '';
