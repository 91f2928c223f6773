-- Songs the catalogue (staging_songs) holds that the songs table refuses: a song without a title
-- or without an artist id (songs.title and songs.artist_id are NOT NULL, which Redshift enforces;
-- COPY's EMPTYASNULL and BLANKSASNULL make an empty or blank value NULL). The song rounds leave
-- them out of songs (sql/copy/songs_dimension_insert.sql); this says which, and how many, on every
-- run until the song object is fixed (its next round replaces the song). The first 10 by song_id,
-- each with how many there are in all; none when none are refused.
SELECT song_id, column_name, reason, COUNT(*) OVER () AS refused
FROM (
    SELECT
        song_id,
        CASE WHEN title IS NULL THEN 'title' ELSE 'artist_id' END AS column_name,
        CASE
            WHEN title IS NULL THEN 'song without a title'
            ELSE 'song without an artist id'
        END AS reason
    FROM staging_songs
    WHERE song_id IS NOT NULL
      AND (title IS NULL OR artist_id IS NULL)
) refused
ORDER BY song_id, column_name
LIMIT 10;
