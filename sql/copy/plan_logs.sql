-- A round's log objects: those this execution listed that load_ledger does not hold with the ETag
-- they have now (every one of the days a backfill names: reload), that are not in quarantine with
-- it, and that no earlier round of this execution staged; in key order, at most {{limit}} (one more
-- than a round takes, so copy-staging knows whether more are left). Tables in the one lock order.
-- Log objects are the objects under the log prefix ({{log_keys_from}} <= key < {{log_keys_to}}):
-- the listing's rows are held to that range (a listing handed on by an execution that ran with
-- another LogPrefix keeps none of the old prefix's keys), and so the ledger is read for it alone,
-- a range of its sort key, which its zone maps prune to the blocks of log objects, where the join
-- alone would read every song object's row.
SELECT l.object_key, l.etag, l.size_bytes
FROM load_listing l
LEFT JOIN load_ledger g ON g.object_key = l.object_key AND g.etag = l.etag
    AND g.object_key >= {{log_keys_from}} AND g.object_key < {{log_keys_to}}
LEFT JOIN load_quarantine q ON q.object_key = l.object_key AND q.etag = l.etag
LEFT JOIN staging_files s ON s.run_id = {{run}} AND s.object_key = l.object_key
WHERE l.run_id = {{run}}
  AND l.kind = 'events'
  AND l.object_key >= {{log_keys_from}} AND l.object_key < {{log_keys_to}}
  AND (l.reload OR g.object_key IS NULL)
  AND q.object_key IS NULL
  AND s.object_key IS NULL
ORDER BY l.object_key
LIMIT {{limit}};
