-- Second half of the songplays rewrite: for each natural key of affected_plays, the play its
-- published NextSong lines give, if one of them matches a catalogue song on (title, artist name),
-- through song_key: titles and names compared as Redshift compares VARCHARs, trailing blanks
-- insignificant, and the same on any engine (sql/create/staging_events.sql).
-- A key's lines are every copy the event store holds (an event in two objects, or twice in one):
-- the play comes from the object whose key sorts first, so the answer is the same whatever order
-- objects and songs arrived in. start_time keeps ts's milliseconds.
-- A line is a play when it has a play_key (a NextSong line whose user id is a whole number of 1
-- to 9 digits, with a session and an item) and a time; sql/verify/refused_events.sql reports the
-- others.
INSERT INTO songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id, location, user_agent, source_key)
SELECT songplay_id, start_time, user_number, level, song_id, artist_id, session_id, location, user_agent, object_key
FROM (
    SELECT
        e.play_key AS songplay_id,
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
            PARTITION BY e.play_key
            ORDER BY e.object_key, e.ts, s.song_id, s.artist_id, e.level, e.location, e.user_agent
        ) AS copy_number
    FROM staging_events e
    JOIN staging_songs s ON s.song_key = e.song_key
    WHERE e.play_key IN (SELECT songplay_id FROM affected_plays)
      AND e.published
      AND e.ts IS NOT NULL
      AND s.song_id IS NOT NULL
      AND s.artist_id IS NOT NULL
) plays
WHERE copy_number = 1;
