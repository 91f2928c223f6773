-- The plays whose events change: the natural keys (play_key) of the NextSong lines this execution
-- staged, and of the lines of the earlier versions of its objects, which this batch removes.
-- Private to this session.
CREATE TEMP TABLE affected_plays AS
SELECT DISTINCT play_key AS songplay_id
FROM staging_events
WHERE play_key IS NOT NULL
  AND ((run_id = {{run}} AND NOT published)
       OR (published AND run_id <> {{run}} AND object_key IN (SELECT object_key FROM run_objects)));
