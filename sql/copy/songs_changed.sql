-- The songs the round added or replaced, for load-facts to match their plays again (a play that
-- waited for its song, or one whose song's title or artist name changed).
INSERT INTO changed_songs (song_id)
SELECT DISTINCT l.song_id
FROM songs_load l
WHERE l.song_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM changed_songs c WHERE c.song_id = l.song_id);
