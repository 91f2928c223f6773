-- Data-quality checks: (check_name, failing_rows). A check passes when failing_rows = 0; any other
-- value fails the run with DataQualityFailed naming the check.
--   *_key_unique: rows minus distinct non-null keys (counts both duplicates and NULL keys)
--   songplays_*_in_*: songplays whose reference is missing from its dimension. Plays are left
--     out while a later step of another execution still has work on them: of a user in
--     changed_users (the next load-dimensions writes the row), or of a song in changed_songs (a
--     song round changed the song, its artist or its title, and the next load-facts derives the
--     play again). That execution checks them itself; a check over them here would fail whenever
--     two executions overlap. time changes with songplays, in one transaction. Everything
--     settled, and everything this execution loaded, is in.
--   *_not_empty: 1 when the table has no rows while what it is derived from has some: an empty
--     warehouse, or one whose plays all wait for their song, passes (a new log file may land
--     before the first song does); songplays while a load-facts has changed songs to work off,
--     and users while a load-dimensions has users to write, are not checked (as above).
-- Keys are read through MD5(CAST(key AS VARCHAR)), a computed value no declared key describes:
-- Redshift does not enforce the keys the star tables declare but plans with them ("a SELECT
-- DISTINCT query might return duplicate rows if the primary key is not unique", and joins it takes
-- as redundant are removed: "Defining table constraints"), so COUNT(DISTINCT songplay_id) may be
-- counted as COUNT(songplay_id) and NOT EXISTS over a declared foreign key taken as false, which
-- would pass the very duplicates and orphans these checks are for. redshift-local plans the same
-- way (local/redshift-local/src/keys.rs), so a check over a bare key fails its test there.
-- Listed by check name (UNION ALL keeps no order of its own).
WITH settled AS (
    SELECT sp.* FROM songplays sp
    WHERE NOT EXISTS (SELECT 1 FROM changed_users c WHERE c.user_id = sp.user_id)
      AND NOT EXISTS (SELECT 1 FROM changed_songs c WHERE c.song_id = sp.song_id)
)
SELECT check_name, failing_rows
FROM (
    SELECT 'songplays_key_unique' AS check_name, COUNT(*) - COUNT(DISTINCT MD5(CAST(songplay_id AS VARCHAR))) AS failing_rows FROM songplays
    UNION ALL SELECT 'users_key_unique', COUNT(*) - COUNT(DISTINCT MD5(CAST(user_id AS VARCHAR))) FROM users
    UNION ALL SELECT 'songs_key_unique', COUNT(*) - COUNT(DISTINCT MD5(CAST(song_id AS VARCHAR))) FROM songs
    UNION ALL SELECT 'artists_key_unique', COUNT(*) - COUNT(DISTINCT MD5(CAST(artist_id AS VARCHAR))) FROM artists
    UNION ALL SELECT 'time_key_unique', COUNT(*) - COUNT(DISTINCT MD5(CAST(start_time AS VARCHAR))) FROM time
    UNION ALL SELECT 'songplays_user_in_users', COUNT(*) FROM settled sp WHERE NOT EXISTS (SELECT 1 FROM users u WHERE MD5(CAST(u.user_id AS VARCHAR)) = MD5(CAST(sp.user_id AS VARCHAR)))
    UNION ALL SELECT 'songplays_song_in_songs', COUNT(*) FROM settled sp WHERE NOT EXISTS (SELECT 1 FROM songs s WHERE MD5(CAST(s.song_id AS VARCHAR)) = MD5(CAST(sp.song_id AS VARCHAR)))
    UNION ALL SELECT 'songplays_artist_in_artists', COUNT(*) FROM settled sp WHERE NOT EXISTS (SELECT 1 FROM artists a WHERE MD5(CAST(a.artist_id AS VARCHAR)) = MD5(CAST(sp.artist_id AS VARCHAR)))
    UNION ALL SELECT 'songplays_start_time_in_time', COUNT(*) FROM settled sp WHERE NOT EXISTS (SELECT 1 FROM time t WHERE MD5(CAST(t.start_time AS VARCHAR)) = MD5(CAST(sp.start_time AS VARCHAR)))
    -- A star table empty while what it is derived from is not (the source's first row, LIMIT 1;
    -- the emptiness tests are uncorrelated EXISTS conditions in WHERE, evaluated before it). Plays
    -- of changed songs and users of changed users are another execution's to write.
    UNION ALL SELECT 'songplays_not_empty', COUNT(*) FROM (
        SELECT 1 AS one FROM staging_events e
        JOIN staging_songs s ON s.song_key = e.song_key
        WHERE e.published AND e.play_key IS NOT NULL AND e.ts IS NOT NULL
          AND s.song_id IS NOT NULL AND s.artist_id IS NOT NULL
        LIMIT 1
    ) source WHERE NOT EXISTS (SELECT 1 FROM songplays) AND NOT EXISTS (SELECT 1 FROM changed_songs)
    UNION ALL SELECT 'users_not_empty', COUNT(*) FROM (
        SELECT 1 AS one FROM staging_events
        WHERE published AND page = 'NextSong' AND user_number IS NOT NULL AND level IS NOT NULL AND ts IS NOT NULL
        LIMIT 1
    ) source WHERE NOT EXISTS (SELECT 1 FROM users) AND NOT EXISTS (SELECT 1 FROM changed_users)
    UNION ALL SELECT 'songs_not_empty', COUNT(*) FROM (
        SELECT 1 AS one FROM staging_songs WHERE song_id IS NOT NULL AND title IS NOT NULL AND artist_id IS NOT NULL
        LIMIT 1
    ) source WHERE NOT EXISTS (SELECT 1 FROM songs)
    UNION ALL SELECT 'artists_not_empty', COUNT(*) FROM (
        SELECT 1 AS one FROM staging_songs WHERE song_id IS NOT NULL AND artist_id IS NOT NULL AND artist_name IS NOT NULL
        LIMIT 1
    ) source WHERE NOT EXISTS (SELECT 1 FROM artists)
    UNION ALL SELECT 'time_not_empty', COUNT(*) FROM (SELECT 1 AS one FROM songplays LIMIT 1) source
        WHERE NOT EXISTS (SELECT 1 FROM time)
) checks
ORDER BY check_name;
