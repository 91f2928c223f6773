-- Data-quality checks: (check_name, failing_rows). A check passes when failing_rows = 0; any other
-- value fails the run with DataQualityFailed naming the check.
--   *_key_unique: rows minus distinct non-null keys (counts both duplicates and NULL keys)
--   songplays_*_in_*: songplays whose reference is missing from its dimension. Plays from an object
--     another execution still has staged are left out: that execution loads their dimension rows
--     in its own later step and checks them itself (a check over them here would fail whenever
--     two executions overlap). Everything settled, and everything this execution loaded, is in.
--   *_not_empty: 1 when the table has no rows
-- Listed by check name (UNION ALL keeps no order of its own).
WITH settled AS (
    SELECT sp.* FROM songplays sp
    WHERE NOT EXISTS (
        SELECT 1 FROM staging_files f WHERE f.object_key = sp.source_key AND f.run_id <> {{run}}
    )
)
SELECT check_name, failing_rows
FROM (
    SELECT 'songplays_key_unique' AS check_name, COUNT(*) - COUNT(DISTINCT songplay_id) AS failing_rows FROM songplays
    UNION ALL SELECT 'users_key_unique', COUNT(*) - COUNT(DISTINCT user_id) FROM users
    UNION ALL SELECT 'songs_key_unique', COUNT(*) - COUNT(DISTINCT song_id) FROM songs
    UNION ALL SELECT 'artists_key_unique', COUNT(*) - COUNT(DISTINCT artist_id) FROM artists
    UNION ALL SELECT 'time_key_unique', COUNT(*) - COUNT(DISTINCT start_time) FROM time
    UNION ALL SELECT 'songplays_user_in_users', COUNT(*) FROM settled sp WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = sp.user_id)
    UNION ALL SELECT 'songplays_song_in_songs', COUNT(*) FROM settled sp WHERE NOT EXISTS (SELECT 1 FROM songs s WHERE s.song_id = sp.song_id)
    UNION ALL SELECT 'songplays_artist_in_artists', COUNT(*) FROM settled sp WHERE NOT EXISTS (SELECT 1 FROM artists a WHERE a.artist_id = sp.artist_id)
    UNION ALL SELECT 'songplays_start_time_in_time', COUNT(*) FROM settled sp WHERE NOT EXISTS (SELECT 1 FROM time t WHERE t.start_time = sp.start_time)
    UNION ALL SELECT 'songplays_not_empty', CASE WHEN COUNT(*) = 0 THEN 1 ELSE 0 END FROM songplays
    UNION ALL SELECT 'users_not_empty', CASE WHEN COUNT(*) = 0 THEN 1 ELSE 0 END FROM users
    UNION ALL SELECT 'songs_not_empty', CASE WHEN COUNT(*) = 0 THEN 1 ELSE 0 END FROM songs
    UNION ALL SELECT 'artists_not_empty', CASE WHEN COUNT(*) = 0 THEN 1 ELSE 0 END FROM artists
    UNION ALL SELECT 'time_not_empty', CASE WHEN COUNT(*) = 0 THEN 1 ELSE 0 END FROM time
) checks
ORDER BY check_name;
