-- Each user's latest event among this execution's staged events (any page; ties on ts go to the
-- later item in the session), whether the user played a song in them, and whether the user
-- already has a row. Only whole-number user ids (as in sql/facts/songplays_insert.sql). Private to
-- this session.
CREATE TEMP TABLE users_latest AS
SELECT
    CAST(latest.user_id AS INTEGER) AS user_id,
    latest.first_name,
    latest.last_name,
    latest.gender,
    latest.level,
    TIMESTAMP 'epoch' + latest.ts * INTERVAL '1 millisecond' AS last_event_at,
    played.user_id IS NOT NULL AS played,
    known.user_id IS NOT NULL AS known
FROM (
    SELECT
        user_id, first_name, last_name, gender, level, ts,
        ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY ts DESC, item_in_session DESC) AS recency
    FROM staging_events
    WHERE run_id = {{run}} AND user_id ~ '^[0-9]{1,9}$' AND level IS NOT NULL AND ts IS NOT NULL
) latest
LEFT JOIN (
    SELECT DISTINCT user_id FROM staging_events WHERE run_id = {{run}} AND page = 'NextSong'
) played ON played.user_id = latest.user_id
LEFT JOIN users known ON known.user_id = CAST(latest.user_id AS INTEGER)
WHERE latest.recency = 1;
