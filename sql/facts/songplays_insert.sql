-- Second half of the songplays rewrite: for each natural key of affected_plays, the play its
-- published NextSong lines give, if one of them matches a catalogue song on (title, artist name).
-- A key's lines are every copy the event store holds (an event in two objects, or twice in one):
-- the play comes from the object whose key sorts first, so the answer is the same whatever order
-- objects and songs arrived in. Titles and names match without their trailing blanks, as
-- Redshift compares VARCHARs ("Trailing spaces in VARCHAR and CHAR values are treated as
-- semantically insignificant"), and the same on any engine. start_time keeps ts's milliseconds.
-- A line is a play when its user id is a whole number (1 to 9 digits, so the cast cannot fail)
-- and it has a time, a session and an item; sql/verify/refused_events.sql reports the others.
INSERT INTO songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id, location, user_agent, source_key)
SELECT songplay_id, start_time, user_number, level, song_id, artist_id, session_id, location, user_agent, object_key
FROM (
    SELECT
        e.songplay_id,
        TIMESTAMP 'epoch' + e.ts * INTERVAL '1 millisecond' AS start_time,
        e.user_number,
        e.level,
        s.song_id,
        s.artist_id,
        e.session_id,
        e.location,
        e.user_agent,
        e.object_key,
        ROW_NUMBER() OVER (
            PARTITION BY e.songplay_id
            ORDER BY e.object_key, e.ts, s.song_id, s.artist_id, e.level, e.location, e.user_agent
        ) AS copy_number
    FROM (
        SELECT
            MD5(CAST(session_id AS VARCHAR) || ':' || CAST(item_in_session AS VARCHAR) || ':' || CAST(user_number AS VARCHAR)) AS songplay_id,
            user_number, ts, level, session_id, location, user_agent, object_key, song, artist
        FROM (
            SELECT
                CASE WHEN user_id ~ '^[0-9]{1,9}$' THEN CAST(user_id AS INTEGER) END AS user_number,
                ts, level, session_id, item_in_session, location, user_agent, object_key, song, artist
            FROM staging_events
            WHERE published AND page = 'NextSong' AND ts IS NOT NULL
        ) lines
        WHERE user_number IS NOT NULL
          AND session_id IS NOT NULL
          AND item_in_session IS NOT NULL
    ) e
    JOIN staging_songs s
      ON RTRIM(e.song) = RTRIM(s.title)
     AND RTRIM(e.artist) = RTRIM(s.artist_name)
    WHERE e.songplay_id IN (SELECT songplay_id FROM affected_plays)
      AND s.song_id IS NOT NULL
      AND s.artist_id IS NOT NULL
) plays
WHERE copy_number = 1;
