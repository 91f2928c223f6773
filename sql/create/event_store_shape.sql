-- The event store's shape, once the tables are known to exist (an existing table is left as it
-- is): a warehouse loaded by a version of the pipeline from before the event store has a
-- staging_events without these columns, and fails here, naming the one it lacks, rather than in
-- the middle of a load. Such a warehouse needs create-tables with "reset": true once; the next nightly run then loads
-- the whole bucket again, which gives the tables one load from scratch gives
-- (docs/exactly-once.md).
SELECT run_id, object_key, published, user_number, play_key, song_key FROM staging_events LIMIT 0;
