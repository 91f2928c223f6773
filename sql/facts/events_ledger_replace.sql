-- This execution's log objects are in the star schema once this batch commits: record them.
-- Every key staged as a log object is under the log prefix: the constant range of it
-- ({{log_keys_from}} <= key < {{log_keys_to}}) is a range of the ledger's sort key, which its
-- zone maps prune to the blocks of log objects, where the IN alone would read every song object's.
DELETE FROM load_ledger
WHERE object_key >= {{log_keys_from}} AND object_key < {{log_keys_to}}
  AND object_key IN (SELECT object_key FROM staging_files WHERE run_id = {{run}} AND kind = 'events');
