-- Plays waiting for their song: published NextSong lines (one per natural key, play_key) that
-- match no catalogue song yet, and the time of the oldest. They become songplays when a song round
-- adds their song (docs/exactly-once.md); until then they are in no star table. (waiting, oldest):
-- 0 and NULL when none wait. A line that names no song or no artist (no song_key) waits for
-- nothing: no song can complete it.
SELECT COUNT(*) AS waiting, MIN(start_time) AS oldest
FROM (
    SELECT play_key, MIN(TIMESTAMP 'epoch' + ts * INTERVAL '1 millisecond') AS start_time
    FROM staging_events
    WHERE published AND play_key IS NOT NULL AND song_key IS NOT NULL AND ts IS NOT NULL
    GROUP BY play_key
) plays
WHERE NOT EXISTS (SELECT 1 FROM songplays sp WHERE sp.songplay_id = plays.play_key);
