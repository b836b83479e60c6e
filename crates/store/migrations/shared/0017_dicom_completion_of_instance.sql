-- The completion of its study that an instance was first part of, so that a study
-- completed again by late instances forwards only those. Instances of studies already
-- completed count as part of their study's latest completion.
ALTER TABLE dicom_instances ADD COLUMN completion BIGINT;
UPDATE dicom_instances SET completion = (
    SELECT s.completions FROM dicom_studies s
    WHERE s.study_uid = dicom_instances.study_uid AND s.completed_at IS NOT NULL
);
