-- A round's song objects: those this execution listed that load_ledger does not hold with the ETag
-- they have now, that are not in quarantine with it and that no earlier round of this execution
-- staged; in key order, at most {{limit}} (one more than a round takes). Tables in the one lock
-- order.
SELECT l.object_key, l.etag, l.size_bytes
FROM load_listing l
LEFT JOIN load_ledger g ON g.object_key = l.object_key AND g.etag = l.etag
LEFT JOIN load_quarantine q ON q.object_key = l.object_key AND q.etag = l.etag
LEFT JOIN staging_files s ON s.run_id = {{run}} AND s.object_key = l.object_key
WHERE l.run_id = {{run}}
  AND l.kind = 'songs'
  AND g.object_key IS NULL
  AND q.object_key IS NULL
  AND s.object_key IS NULL
ORDER BY l.object_key
LIMIT {{limit}};
