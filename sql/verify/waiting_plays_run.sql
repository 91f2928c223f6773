-- The plays waiting for their song among a run of new log files' own lines, in place of
-- sql/verify/waiting_plays.sql's whole event store, so that what a new file's run reads follows
-- the file, not the warehouse (docs/exactly-once.md, what a run's checks cover): each of its
-- lines' plays that no songplay holds, whether or not another object's lines, or the version of
-- its object it replaced, had it waiting already. Only a run that loads songs makes a waiting
-- play a songplay, and those runs report every waiting play. A play of the run's lines whose
-- natural key another object's line gave a songplay does not wait. (waiting, oldest): 0 and NULL
-- when none of its plays wait.
SELECT COUNT(*) AS waiting, MIN(start_time) AS oldest
FROM (
    SELECT play_key, MIN(TIMESTAMP 'epoch' + ts * INTERVAL '1 millisecond') AS start_time
    FROM staging_events
    WHERE run_id = {{run}}
      AND published AND play_key IS NOT NULL AND song_key IS NOT NULL AND ts IS NOT NULL
    GROUP BY play_key
) plays
WHERE NOT EXISTS (SELECT 1 FROM songplays sp WHERE sp.songplay_id = plays.play_key);
