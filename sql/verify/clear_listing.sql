-- The run is over: remove its listing (sql/create/load_listing.sql).
DELETE FROM load_listing WHERE run_id = {{run}};
