-- `./dev quarantine release KEY` and `retry KEY`: forgets one quarantined object, so that the next
-- run tries it again if it is still in the bucket (the operators' one write, granted by
-- sql/create/grant_operators_delete.sql). :key is the object's key, a Data API parameter.
DELETE FROM load_quarantine WHERE object_key = :key;
