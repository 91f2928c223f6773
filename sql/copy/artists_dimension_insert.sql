-- Second half of the artists upsert: one row per artist_id the round changed, from every song the
-- catalogue holds of it (an artist with no song left is not written; a row without a song_id is
-- no song, and never replaced, so it decides nothing). 426 artists appear in several song
-- files with conflicting name, location or coordinates; the row kept is, in order of preference:
--   1. one with a known location (not NULL and not empty),
--   2. then one with coordinates,
--   3. then the one from the song with the smallest song_id (a stable tie-break; a song_id held
--      twice is broken on the artist's attributes).
-- So the most informative record wins and every run picks the same one.
INSERT INTO artists (artist_id, name, location, latitude, longitude)
SELECT artist_id, artist_name, artist_location, artist_latitude, artist_longitude
FROM (
    SELECT
        artist_id, artist_name, artist_location, artist_latitude, artist_longitude,
        ROW_NUMBER() OVER (
            PARTITION BY artist_id
            ORDER BY
                CASE WHEN artist_location IS NULL OR artist_location = '' THEN 1 ELSE 0 END,
                CASE WHEN artist_latitude IS NULL OR artist_longitude IS NULL THEN 1 ELSE 0 END,
                song_id, artist_name, artist_location, artist_latitude, artist_longitude
        ) AS preference
    FROM staging_songs
    WHERE artist_id IN (SELECT artist_id FROM changed_artists)
      AND artist_name IS NOT NULL
      AND song_id IS NOT NULL
) candidates
WHERE preference = 1;
