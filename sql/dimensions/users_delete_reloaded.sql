-- First half of the users upsert: remove the users this run will write again.
DELETE FROM users
WHERE user_id IN (
    SELECT CAST(user_id AS INTEGER)
    FROM staging_events
    WHERE page = 'NextSong' AND user_id <> ''
);
