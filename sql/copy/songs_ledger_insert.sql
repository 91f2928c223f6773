-- Song objects load through one manifest per round, so their rows_loaded is NULL (load_ledger.sql).
INSERT INTO load_ledger (object_key, kind, etag, size_bytes, rows_loaded, run_id, loaded_at)
SELECT object_key, kind, etag, size_bytes, NULL, run_id, staged_at
FROM staging_files
WHERE run_id = {{run}} AND kind = 'songs';
