-- The key plays match the round's songs on: MD5 of (title, artist_name) as Redshift compares them,
-- as sql/copy/events_load_tag.sql keys the song a play names. The ids are kept without trailing
-- blanks: Redshift compares VARCHAR values ignoring them ("Character types"), so 'SOX ' and 'SOX'
-- are one song there (one catalogue entry, one songs row, one join key); trimmed, PostgreSQL
-- gives the same answer.
UPDATE songs_load
SET song_key = CASE
        WHEN title IS NOT NULL AND artist_name IS NOT NULL
        THEN MD5(CAST(LENGTH(RTRIM(title)) AS VARCHAR) || ':' || RTRIM(title) || RTRIM(artist_name))
    END,
    song_id = RTRIM(song_id),
    artist_id = RTRIM(artist_id);
