-- The song objects of this execution are in the catalogue once this round commits: record them.
DELETE FROM load_ledger
WHERE object_key IN (SELECT object_key FROM staging_files WHERE run_id = {{run}} AND kind = 'songs');
