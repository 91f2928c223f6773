-- Staged events that the transforms do not load, per object and column: (object_key, column_name,
-- reason, rows). COPY loaded them (user_id is text, as the logs write it), but a user id that is
-- not a whole number of 1 to 9 digits cannot be a user (user_number stays NULL:
-- sql/copy/events_load_tag.sql), and a play needs its time, session and
-- item (the predicate of sql/facts/songplays_insert.sql and sql/dimensions/users_latest.sql).
-- Logged-out events, whose user id is empty (NULL), are not refusals.
SELECT object_key, column_name, reason, COUNT(*) AS refused
FROM (
    SELECT
        object_key,
        CASE
            WHEN user_id IS NOT NULL AND user_number IS NULL THEN 'user_id'
            WHEN page = 'NextSong' AND ts IS NULL THEN 'ts'
            WHEN page = 'NextSong' AND session_id IS NULL THEN 'session_id'
            WHEN page = 'NextSong' AND item_in_session IS NULL THEN 'item_in_session'
        END AS column_name,
        CASE
            WHEN user_id IS NOT NULL AND user_number IS NULL THEN 'user id is not a whole number of 1 to 9 digits'
            WHEN page = 'NextSong' AND ts IS NULL THEN 'song play without a time'
            WHEN page = 'NextSong' AND session_id IS NULL THEN 'song play without a session'
            WHEN page = 'NextSong' AND item_in_session IS NULL THEN 'song play without an item in session'
        END AS reason
    FROM staging_events
    WHERE run_id = {{run}}
) events
WHERE column_name IS NOT NULL
GROUP BY object_key, column_name, reason
ORDER BY object_key, column_name;
