-- The artists whose row the round rewrites: those of the songs it loaded, and those the songs it
-- replaces had before (a song may move to another artist id). Private to this session; read
-- before the catalogue changes.
CREATE TEMP TABLE changed_artists AS
SELECT artist_id FROM songs_load WHERE artist_id IS NOT NULL
UNION
SELECT c.artist_id
FROM staging_songs c
WHERE c.artist_id IS NOT NULL
  AND c.song_id IN (SELECT song_id FROM songs_load WHERE song_id IS NOT NULL);
