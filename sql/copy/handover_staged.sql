-- What this execution staged is its own to publish: only what it did not take is handed on.
DELETE FROM load_listing
WHERE run_id = {{run}}
  AND object_key IN (SELECT object_key FROM staging_files WHERE run_id = {{run}});
