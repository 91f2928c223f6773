-- Plays waiting for their song: published NextSong events (one per natural key, as in
-- sql/facts/songplays_insert.sql) that match no catalogue song yet, and the time of the oldest.
-- They become songplays when a song round adds their song (docs/exactly-once.md); until then they
-- are in no star table. (waiting, oldest): 0 and NULL when none wait.
SELECT COUNT(*) AS waiting, MIN(start_time) AS oldest
FROM (
    SELECT
        MD5(CAST(session_id AS VARCHAR) || ':' || CAST(item_in_session AS VARCHAR) || ':' || CAST(user_number AS VARCHAR)) AS songplay_id,
        MIN(TIMESTAMP 'epoch' + ts * INTERVAL '1 millisecond') AS start_time
    FROM (
        SELECT
            CASE WHEN user_id ~ '^[0-9]{1,9}$' THEN CAST(user_id AS INTEGER) END AS user_number,
            session_id, item_in_session, ts
        FROM staging_events
        WHERE published AND page = 'NextSong' AND ts IS NOT NULL
    ) lines
    WHERE user_number IS NOT NULL
      AND session_id IS NOT NULL
      AND item_in_session IS NOT NULL
    GROUP BY session_id, item_in_session, user_number
) plays
WHERE NOT EXISTS (SELECT 1 FROM songplays sp WHERE sp.songplay_id = plays.songplay_id);
