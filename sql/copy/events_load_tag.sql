-- Tags the rows the COPY before it loaded (the only untagged ones) with their execution and object,
-- as not yet published (load-facts publishes them), with the user id as a number, the natural key
-- of a play and the key of the song it names (sql/create/staging_events.sql). The CASEs keep the
-- cast from text that is not a number: a user id is one when it has 1 to 9 characters and every
-- one is a digit. No anchored pattern: Redshift's POSIX `^` and `$` also match at a line's
-- beginning and end ("POSIX operators"), so '^[0-9]{1,9}$' would pass "12\nx" to the cast, which
-- would fail the round on an object whose COPY succeeded. page is kept without trailing blanks:
-- "Trailing spaces in VARCHAR and CHAR values are treated as semantically insignificant when values
-- are compared" ("Character types"), so on Redshift 'NextSong ' is a play; trimmed, every
-- comparison with 'NextSong' (here and in the transforms) gives Redshift's answer on PostgreSQL too.
-- The CASEs compare RTRIM(page): an UPDATE's expressions read the row as it was.
UPDATE events_load
SET run_id = {{run}},
    object_key = {{object_key}},
    published = FALSE,
    page = RTRIM(page),
    user_number = CASE
        WHEN LENGTH(user_id) BETWEEN 1 AND 9 AND REGEXP_COUNT(user_id, '[0-9]') = LENGTH(user_id)
        THEN CAST(user_id AS INTEGER)
    END,
    play_key = CASE
        WHEN RTRIM(page) = 'NextSong'
             AND LENGTH(user_id) BETWEEN 1 AND 9 AND REGEXP_COUNT(user_id, '[0-9]') = LENGTH(user_id)
             AND session_id IS NOT NULL AND item_in_session IS NOT NULL
        THEN MD5(CAST(session_id AS VARCHAR) || ':' || CAST(item_in_session AS VARCHAR) || ':'
                 || CAST(CAST(user_id AS INTEGER) AS VARCHAR))
    END,
    song_key = CASE
        WHEN RTRIM(page) = 'NextSong' AND song IS NOT NULL AND artist IS NOT NULL
        THEN MD5(CAST(LENGTH(RTRIM(song)) AS VARCHAR) || ':' || RTRIM(song) || RTRIM(artist))
    END
WHERE object_key IS NULL;
