-- The run is over: remove its staged-object list.
DELETE FROM staging_files WHERE run_id = {{run}};
