-- The data-quality checks of a run of new log files: (check_name, failing_rows), the checks of
-- sql/verify/quality_checks.sql over what the run wrote rather than over whole tables, so that
-- what a new file's run does follows the file, not the warehouse (docs/exactly-once.md). What it
-- wrote: the plays of its lines' natural keys, and their users, songs, artists and start times; a
-- run of new log files changes no song or artist (it loads no song object). What its load-facts
-- or load-dimensions wrote for another execution's changes (songs in changed_songs, users in
-- changed_users) is checked by that execution's own checks, which run after, or, if it died, by
-- the next nightly run's, which cover whole tables as backfill, continued and by-hand runs do.
-- The not-empty checks are the same as there (each stops at its source's first row); a test in
-- functions/verify-counts holds the two files to the same checks in the same order. Keys are read
-- through MD5(CAST(key AS VARCHAR)) for the reason sql/verify/quality_checks.sql gives.
-- The dimensions' rows are read once, for the run's keys (run_songs, run_artists: the rows whose
-- key is one the run's plays name), before any MD5: a key's look-up hashes the few rows the run
-- touches, not the whole catalogue. The key filter cannot lose a row the check needs (the look-up
-- compares the same key, through MD5), and it removes no join a declared key could make
-- redundant: it filters the dimension by the plays, which no key says are there.
WITH run_plays AS (
    SELECT sp.* FROM songplays sp
    WHERE sp.songplay_id IN (
        SELECT play_key FROM staging_events WHERE run_id = {{run}} AND play_key IS NOT NULL
    )
),
settled AS (
    SELECT sp.* FROM run_plays sp
    WHERE NOT EXISTS (SELECT 1 FROM changed_users c WHERE c.user_id = sp.user_id)
      AND NOT EXISTS (SELECT 1 FROM changed_songs c WHERE c.song_id = sp.song_id)
),
run_songs AS (
    SELECT song_id FROM songs WHERE song_id IN (SELECT song_id FROM run_plays)
),
run_artists AS (
    SELECT artist_id FROM artists WHERE artist_id IN (SELECT artist_id FROM run_plays)
)
SELECT check_name, failing_rows
FROM (
    SELECT 'songplays_key_unique' AS check_name, COUNT(*) - COUNT(DISTINCT MD5(CAST(songplay_id AS VARCHAR))) AS failing_rows FROM run_plays
    UNION ALL SELECT 'users_key_unique', COUNT(*) - COUNT(DISTINCT MD5(CAST(user_id AS VARCHAR))) FROM users
        WHERE user_id IN (SELECT user_number FROM staging_events WHERE run_id = {{run}} AND user_number IS NOT NULL)
    UNION ALL SELECT 'songs_key_unique', COUNT(*) - COUNT(DISTINCT MD5(CAST(song_id AS VARCHAR))) FROM run_songs
    UNION ALL SELECT 'artists_key_unique', COUNT(*) - COUNT(DISTINCT MD5(CAST(artist_id AS VARCHAR))) FROM run_artists
    UNION ALL SELECT 'time_key_unique', COUNT(*) - COUNT(DISTINCT MD5(CAST(start_time AS VARCHAR))) FROM time
        WHERE start_time IN (SELECT start_time FROM run_plays)
    UNION ALL SELECT 'songplays_user_in_users', COUNT(*) FROM settled sp WHERE NOT EXISTS (SELECT 1 FROM users u WHERE MD5(CAST(u.user_id AS VARCHAR)) = MD5(CAST(sp.user_id AS VARCHAR)))
    UNION ALL SELECT 'songplays_song_in_songs', COUNT(*) FROM settled sp WHERE NOT EXISTS (SELECT 1 FROM run_songs s WHERE MD5(CAST(s.song_id AS VARCHAR)) = MD5(CAST(sp.song_id AS VARCHAR)))
    UNION ALL SELECT 'songplays_artist_in_artists', COUNT(*) FROM settled sp WHERE NOT EXISTS (SELECT 1 FROM run_artists a WHERE MD5(CAST(a.artist_id AS VARCHAR)) = MD5(CAST(sp.artist_id AS VARCHAR)))
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
