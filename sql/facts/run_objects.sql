-- The log objects this execution staged, which this batch publishes. Private to this session.
CREATE TEMP TABLE run_objects AS
SELECT object_key FROM staging_files WHERE run_id = {{run}} AND kind = 'events';
