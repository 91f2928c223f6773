-- Second half of the users upsert: one row per user who played a song, with the names, gender and
-- level of that user's latest event of any page (8 users change level during the month; the latest
-- wins). Ties on ts go to the later item in the session, so the choice is deterministic.
INSERT INTO users (user_id, first_name, last_name, gender, level)
SELECT CAST(user_id AS INTEGER), first_name, last_name, gender, level
FROM (
    SELECT
        user_id, first_name, last_name, gender, level,
        ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY ts DESC, item_in_session DESC) AS recency
    FROM staging_events
    WHERE user_id <> ''
      AND user_id IN (SELECT user_id FROM staging_events WHERE page = 'NextSong')
) latest
WHERE recency = 1;
