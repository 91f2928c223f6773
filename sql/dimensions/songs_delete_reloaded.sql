-- First half of the songs upsert: remove the songs the catalogue (staging_songs) will write again.
DELETE FROM songs
WHERE song_id IN (SELECT song_id FROM staging_songs WHERE song_id IS NOT NULL);
