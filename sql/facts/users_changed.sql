-- The users whose events change (any page: the latest event gives a user's attributes), for
-- load-dimensions to derive their rows again: those of the lines this execution staged and of the
-- lines of the earlier versions of its objects.
INSERT INTO changed_users (user_id)
SELECT DISTINCT e.user_number
FROM staging_events e
WHERE e.user_number IS NOT NULL
  AND ((e.run_id = {{run}} AND NOT e.published)
       OR (e.published AND e.run_id <> {{run}} AND e.object_key IN (SELECT object_key FROM run_objects)))
  AND NOT EXISTS (SELECT 1 FROM changed_users c WHERE c.user_id = e.user_number);
