-- The users whose events change (any page: the latest event gives a user's attributes), for
-- load-dimensions to derive their rows again: those of the lines this execution staged and of the
-- lines of the earlier versions of its objects.
INSERT INTO changed_users (user_id)
SELECT DISTINCT lines.user_number
FROM (
    SELECT CASE WHEN user_id ~ '^[0-9]{1,9}$' THEN CAST(user_id AS INTEGER) END AS user_number
    FROM staging_events
    WHERE (run_id = {{run}} AND NOT published)
       OR (published AND run_id <> {{run}} AND object_key IN (SELECT object_key FROM run_objects))
) lines
WHERE lines.user_number IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM changed_users c WHERE c.user_id = lines.user_number);
