-- A song object this round loaded leaves quarantine: it was fixed (its ETag changed) and its
-- COPY now succeeds, and it is in load_ledger from the statements before.
DELETE FROM load_quarantine
WHERE object_key IN (
    SELECT object_key FROM staging_files WHERE run_id = {{run}} AND kind = 'songs'
);
