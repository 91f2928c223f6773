-- The key plays match the round's songs on: MD5 of (title, artist_name) as Redshift compares them,
-- as sql/copy/events_load_tag.sql keys the song a play names.
UPDATE songs_load
SET song_key = MD5(CAST(LENGTH(RTRIM(title)) AS VARCHAR) || ':' || RTRIM(title) || RTRIM(artist_name))
WHERE title IS NOT NULL AND artist_name IS NOT NULL;
