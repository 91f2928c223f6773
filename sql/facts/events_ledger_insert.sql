-- One ledger row per log object of this execution, with the rows staged from it (0 for an empty
-- object; lines COPY rejected are not rows).
INSERT INTO load_ledger (object_key, kind, etag, size_bytes, rows_loaded, run_id, loaded_at)
SELECT f.object_key, f.kind, f.etag, f.size_bytes, COALESCE(staged.row_count, 0), f.run_id, f.staged_at
FROM staging_files f
LEFT JOIN (
    SELECT object_key, COUNT(*) AS row_count
    FROM staging_events
    WHERE run_id = {{run}}
    GROUP BY object_key
) staged ON staged.object_key = f.object_key
WHERE f.run_id = {{run}} AND f.kind = 'events';
