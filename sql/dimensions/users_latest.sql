-- Each changed user's row as every published event gives it (sql/create/changed_users.sql): the
-- attributes of the user's latest event (any page; ties on ts go to the later item in the session,
-- then to the object whose key sorts first), for users who played a song. Users are their user
-- number ("07" and "7" are one user), as in sql/facts/songplays_insert.sql. Private to this
-- session.
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
        user_number, first_name, last_name, gender, level, ts,
        ROW_NUMBER() OVER (
            PARTITION BY user_number
            ORDER BY ts DESC, item_in_session DESC, object_key, level, first_name, last_name, gender
        ) AS recency
    FROM staging_events
    WHERE published
      AND level IS NOT NULL
      AND ts IS NOT NULL
      AND user_number IN (SELECT user_id FROM changed_users)
) latest
WHERE latest.recency = 1
  AND latest.user_number IN (
    SELECT user_number FROM staging_events
    WHERE published AND page = 'NextSong'
      AND user_number IN (SELECT user_id FROM changed_users)
);
