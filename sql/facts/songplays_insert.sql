-- Second half of the songplays upsert: one row per NextSong event of this execution whose
-- (song, artist) equals a catalogue song's (title, artist_name). songplay_id is MD5 of the event's
-- natural key (session, item in session, user): the same event gets the same id on every run, and
-- an event staged twice (in two objects, or twice in one) is inserted once, from the object whose
-- key sorts first. start_time keeps ts's milliseconds.
-- An event is usable when its user id is a whole number (1 to 9 digits, so the cast cannot fail)
-- and it has a time, a session and an item; sql/verify/refused_events.sql reports the others.
INSERT INTO songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id, location, user_agent, source_key)
SELECT songplay_id, start_time, user_id, level, song_id, artist_id, session_id, location, user_agent, object_key
FROM (
    SELECT
        MD5(CAST(e.session_id AS VARCHAR) || ':' || CAST(e.item_in_session AS VARCHAR) || ':' || e.user_id) AS songplay_id,
        TIMESTAMP 'epoch' + e.ts * INTERVAL '1 millisecond' AS start_time,
        CAST(e.user_id AS INTEGER) AS user_id,
        e.level,
        s.song_id,
        s.artist_id,
        e.session_id,
        e.location,
        e.user_agent,
        e.object_key,
        ROW_NUMBER() OVER (
            PARTITION BY e.session_id, e.item_in_session, e.user_id
            ORDER BY e.object_key, e.ts, s.song_id
        ) AS copy_number
    FROM staging_events e
    JOIN staging_songs s
      ON e.song = s.title
     AND e.artist = s.artist_name
    WHERE e.run_id = {{run}}
      AND e.page = 'NextSong'
      AND e.user_id ~ '^[0-9]{1,9}$'
      AND e.ts IS NOT NULL
      AND e.session_id IS NOT NULL
      AND e.item_in_session IS NOT NULL
) plays
WHERE copy_number = 1;
