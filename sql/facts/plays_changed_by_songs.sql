-- The plays the songs the catalogue changed touch (sql/create/changed_songs.sql): published
-- NextSong lines that match one of those songs now (a play that waited for its song), and plays
-- that named one of them (its title or artist name may have changed).
-- A run that changed no song (every run of new log files, and most nights) finds nothing: the
-- uncorrelated EXISTS is decided once, before the event store, the catalogue or songplays are
-- read, so that run's work follows its files rather than the size of those tables.
INSERT INTO affected_plays (songplay_id)
SELECT e.play_key
FROM staging_events e
JOIN staging_songs s ON s.song_key = e.song_key
WHERE EXISTS (SELECT 1 FROM changed_songs)
  AND s.song_id IN (SELECT song_id FROM changed_songs)
  AND e.published
  AND e.play_key IS NOT NULL
UNION
SELECT songplay_id
FROM songplays
WHERE EXISTS (SELECT 1 FROM changed_songs)
  AND song_id IN (SELECT song_id FROM changed_songs);
