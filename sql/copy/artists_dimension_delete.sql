-- First half of the artists upsert, in the round that changed the catalogue: remove the artists
-- whose songs it changed (sql/copy/songs_changed_artists.sql).
DELETE FROM artists
WHERE artist_id IN (SELECT artist_id FROM changed_artists);
