-- Second half of the catalogue upsert: the songs with a song_id (a song is its song_id; a record
-- without one can be no song, and kept it would be kept again by every load of its object).
INSERT INTO staging_songs SELECT * FROM songs_load WHERE song_id IS NOT NULL;
