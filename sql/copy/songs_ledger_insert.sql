-- The song objects of this round enter the ledger: those of the execution's staged objects that it
-- has not recorded yet (sql/copy/songs_ledger_replace.sql). Song objects load through one manifest
-- per round, so their rows_loaded is NULL (load_ledger.sql).
INSERT INTO load_ledger (object_key, kind, etag, size_bytes, rows_loaded, run_id, loaded_at)
SELECT f.object_key, f.kind, f.etag, f.size_bytes, NULL, f.run_id, f.staged_at
FROM staging_files f
WHERE f.run_id = {{run}} AND f.kind = 'songs'
  AND NOT EXISTS (
      SELECT 1 FROM load_ledger g WHERE g.run_id = {{run}} AND g.object_key = f.object_key
  );
