-- Row counts of every table of the pipeline, in load order: (table_name, row_count).
-- staging_events counts this execution's rows (what it loaded from the logs); every other table
-- counts all its rows. UNION ALL keeps no order of its own, so each branch carries its position.
SELECT table_name, row_count
FROM (
    SELECT 1 AS position, 'staging_events' AS table_name, COUNT(*) AS row_count FROM staging_events WHERE run_id = {{run}}
    UNION ALL SELECT 2, 'staging_songs', COUNT(*) FROM staging_songs
    UNION ALL SELECT 3, 'songplays', COUNT(*) FROM songplays
    UNION ALL SELECT 4, 'users', COUNT(*) FROM users
    UNION ALL SELECT 5, 'songs', COUNT(*) FROM songs
    UNION ALL SELECT 6, 'artists', COUNT(*) FROM artists
    UNION ALL SELECT 7, 'time', COUNT(*) FROM time
) counts
ORDER BY position;
