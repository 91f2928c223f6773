-- The plays the songs the catalogue changed touch (sql/create/changed_songs.sql): published
-- NextSong lines that match one of those songs now (a play that waited for its song), and plays
-- that named one of them (its title or artist name may have changed).
INSERT INTO affected_plays (songplay_id)
SELECT e.play_key
FROM staging_events e
JOIN staging_songs s ON s.song_key = e.song_key
WHERE s.song_id IN (SELECT song_id FROM changed_songs)
  AND e.published
  AND e.play_key IS NOT NULL
UNION
SELECT songplay_id
FROM songplays
WHERE song_id IN (SELECT song_id FROM changed_songs);
