-- Each changed user's row as every published event gives it (sql/create/changed_users.sql): the
-- attributes of the user's latest event (any page; ties on ts go to the later item in the session,
-- then to the object whose key sorts first), for users who played a song. User ids are whole
-- numbers of 1 to 9 digits, compared as numbers ("07" and "7" are one user), as in
-- sql/facts/songplays_insert.sql. Private to this session.
CREATE TEMP TABLE users_latest AS
SELECT
    latest.user_number AS user_id,
    latest.first_name,
    latest.last_name,
    latest.gender,
    latest.level,
    TIMESTAMP 'epoch' + latest.ts * INTERVAL '1 millisecond' AS last_event_at
FROM (
    SELECT
        lines.*,
        ROW_NUMBER() OVER (
            PARTITION BY lines.user_number
            ORDER BY lines.ts DESC, lines.item_in_session DESC, lines.object_key,
                     lines.level, lines.first_name, lines.last_name, lines.gender
        ) AS recency
    FROM (
        SELECT
            CASE WHEN user_id ~ '^[0-9]{1,9}$' THEN CAST(user_id AS INTEGER) END AS user_number,
            first_name, last_name, gender, level, ts, item_in_session, object_key
        FROM staging_events
        WHERE published AND level IS NOT NULL AND ts IS NOT NULL
    ) lines
    WHERE lines.user_number IN (SELECT user_id FROM changed_users)
) latest
JOIN (
    SELECT DISTINCT plays.user_number
    FROM (
        SELECT CASE WHEN user_id ~ '^[0-9]{1,9}$' THEN CAST(user_id AS INTEGER) END AS user_number
        FROM staging_events
        WHERE published AND page = 'NextSong'
    ) plays
) played ON played.user_number = latest.user_number
WHERE latest.recency = 1;
