-- Second half of the songs upsert: one row per song_id the round loaded, from the catalogue as it
-- is now (a song staged twice is written once; identical song_ids carry identical rows in the
-- catalogue, and ties are broken on every column for determinism all the same). A catalogue
-- row without its title or artist id cannot be a song (songs.sql: NOT NULL) and is left out.
INSERT INTO songs (song_id, title, artist_id, year, duration)
SELECT song_id, title, artist_id, year, duration
FROM (
    SELECT
        song_id, title, artist_id, year, duration,
        ROW_NUMBER() OVER (PARTITION BY song_id ORDER BY title, artist_id, year, duration) AS copy_number
    FROM staging_songs
    WHERE song_id IN (SELECT song_id FROM songs_load WHERE song_id IS NOT NULL)
      AND title IS NOT NULL
      AND artist_id IS NOT NULL
) catalogue
WHERE copy_number = 1;
