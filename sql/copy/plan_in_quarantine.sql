-- The log and song objects the round would take but leaves out, since they are in quarantine with the ETag
-- they have now: the first {{limit}} in key order, each with how many there are in all.
SELECT l.object_key, COUNT(*) OVER () AS in_quarantine
FROM load_listing l
JOIN load_quarantine q ON q.object_key = l.object_key AND q.etag = l.etag
LEFT JOIN staging_files s ON s.run_id = {{run}} AND s.object_key = l.object_key
WHERE l.run_id = {{run}}
  AND s.object_key IS NULL
ORDER BY l.object_key
LIMIT {{limit}};
