-- The row the object had before this run's (fewer runs), if any: one row per object stays.
DELETE FROM load_quarantine
WHERE object_key = {{object_key}}
  AND runs < (SELECT MAX(runs) FROM load_quarantine WHERE object_key = {{object_key}});
