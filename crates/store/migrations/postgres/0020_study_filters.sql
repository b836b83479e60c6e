-- The worklist screen filters by modality and site: columns beside the study's JSON body,
-- filled from it for studies stored before.
ALTER TABLE studies ADD COLUMN modality TEXT;
ALTER TABLE studies ADD COLUMN site TEXT;
UPDATE studies SET modality = body::jsonb ->> 'modality', site = body::jsonb ->> 'site';
-- Covering the worklist's filter join: no study row is read to filter.
CREATE INDEX studies_filters ON studies (accession, modality, site);
