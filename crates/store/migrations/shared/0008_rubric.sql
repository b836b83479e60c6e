-- Rubric assessments (theses, projects): the committee's scores, deliberation and
-- finalisation, one JSON body per assessment.
CREATE TABLE rubric_assessments (
    id      TEXT PRIMARY KEY,
    rubric  TEXT NOT NULL,
    subject TEXT NOT NULL,
    body    TEXT NOT NULL
);
CREATE INDEX rubric_assessments_by_rubric ON rubric_assessments (rubric);
