-- First half of the artists upsert: remove the artists the catalogue (staging_songs) will write again.
DELETE FROM artists
WHERE artist_id IN (SELECT artist_id FROM staging_songs WHERE artist_id IS NOT NULL);
