-- Row counts of the tables a run of new log files writes, in load order: (table_name, row_count),
-- in place of sql/verify/table_counts.sql. Such a run loads no song object (songs are left to the
-- runs that load them), so staging_songs, songs and artists are as the last of those left them and
-- are not counted here: counting them reads the whole catalogue, which would make every new file's
-- run grow with the catalogue rather than with the file (docs/exactly-once.md). staging_events
-- counts this execution's rows; songplays, users and time count all their rows.
SELECT table_name, row_count
FROM (
    SELECT 1 AS position, 'staging_events' AS table_name, COUNT(*) AS row_count FROM staging_events WHERE run_id = {{run}}
    UNION ALL SELECT 3, 'songplays', COUNT(*) FROM songplays
    UNION ALL SELECT 4, 'users', COUNT(*) FROM users
    UNION ALL SELECT 7, 'time', COUNT(*) FROM time
) counts
ORDER BY position;
