-- First half of the songplays upsert: remove every play this execution's staged events will write
-- again (same natural key), and every play an earlier version of a restaged log object gave, so a
-- changed object's plays are replaced rather than added to.
DELETE FROM songplays
WHERE source_key IN (
    SELECT object_key FROM staging_files WHERE run_id = {{run}} AND kind = 'events'
)
OR songplay_id IN (
    SELECT MD5(CAST(session_id AS VARCHAR) || ':' || CAST(item_in_session AS VARCHAR) || ':' || user_id)
    FROM staging_events
    WHERE run_id = {{run}} AND page = 'NextSong' AND user_id ~ '^[0-9]{1,9}$'
);
