-- DELETE, not TRUNCATE: see clear_staging_events.sql.
DELETE FROM staging_songs;
