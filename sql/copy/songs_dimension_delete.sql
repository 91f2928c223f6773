-- First half of the songs upsert, in the round that changed the catalogue: remove the songs the
-- round loaded again.
DELETE FROM songs
WHERE song_id IN (SELECT song_id FROM songs_load WHERE song_id IS NOT NULL);
