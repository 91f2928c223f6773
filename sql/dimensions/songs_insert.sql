-- Second half of the songs upsert: one row per song_id (a song staged twice is written once; the
-- file order does not matter because identical song_ids carry identical rows in the catalogue, and
-- ties are broken on title for determinism all the same).
INSERT INTO songs (song_id, title, artist_id, year, duration)
SELECT song_id, title, artist_id, year, duration
FROM (
    SELECT
        song_id, title, artist_id, year, duration,
        ROW_NUMBER() OVER (PARTITION BY song_id ORDER BY title, artist_id) AS copy_number
    FROM staging_songs
    WHERE song_id IS NOT NULL
) catalogue
WHERE copy_number = 1;
