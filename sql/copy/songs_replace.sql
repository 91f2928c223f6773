-- First half of the catalogue upsert: remove the songs the round loaded again.
DELETE FROM staging_songs
WHERE song_id IN (SELECT song_id FROM songs_load WHERE song_id IS NOT NULL);
