-- First half of the songplays upsert: remove the plays that this run's staged events will insert
-- again, so a re-run replaces rows instead of duplicating them.
DELETE FROM songplays
WHERE songplay_id IN (
    SELECT MD5(CAST(session_id AS VARCHAR) || ':' || CAST(item_in_session AS VARCHAR) || ':' || user_id)
    FROM staging_events
    WHERE page = 'NextSong' AND user_id <> ''
);
