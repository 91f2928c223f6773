-- The objects this execution staged (log and song objects), to pick its own load errors.
SELECT object_key FROM staging_files WHERE run_id = {{run}} ORDER BY object_key;
