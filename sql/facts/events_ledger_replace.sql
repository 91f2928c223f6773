-- This execution's log objects are in the star schema once this batch commits: record them.
DELETE FROM load_ledger
WHERE object_key IN (SELECT object_key FROM staging_files WHERE run_id = {{run}} AND kind = 'events');
