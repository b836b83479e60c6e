-- The worklist screen filters by modality and site: columns beside the study's JSON body,
-- filled from it for studies stored before.
ALTER TABLE studies ADD COLUMN modality TEXT;
ALTER TABLE studies ADD COLUMN site TEXT;
UPDATE studies SET modality = body::jsonb ->> 'modality', site = body::jsonb ->> 'site';
