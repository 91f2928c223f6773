-- The run is over: remove its staged rows. DELETE, not TRUNCATE: TRUNCATE commits the open
-- transaction in Redshift, and other executions' rows must stay.
DELETE FROM staging_events WHERE run_id = {{run}};
