-- The plays the songs the catalogue changed touch (sql/create/changed_songs.sql): published
-- NextSong lines that match one of those songs now (a play that waited for its song), and plays
-- that named one of them (its title or artist name may have changed).
INSERT INTO affected_plays (songplay_id)
SELECT
    MD5(CAST(e.session_id AS VARCHAR) || ':' || CAST(e.item_in_session AS VARCHAR) || ':' || CAST(e.user_number AS VARCHAR))
FROM (
    SELECT
        session_id,
        item_in_session,
        CASE WHEN user_id ~ '^[0-9]{1,9}$' THEN CAST(user_id AS INTEGER) END AS user_number,
        song,
        artist
    FROM staging_events
    WHERE published AND page = 'NextSong'
) e
JOIN staging_songs s
  ON RTRIM(e.song) = RTRIM(s.title)
 AND RTRIM(e.artist) = RTRIM(s.artist_name)
WHERE s.song_id IN (SELECT song_id FROM changed_songs)
  AND e.user_number IS NOT NULL
  AND e.session_id IS NOT NULL
  AND e.item_in_session IS NOT NULL
UNION
SELECT songplay_id
FROM songplays
WHERE song_id IN (SELECT song_id FROM changed_songs);
