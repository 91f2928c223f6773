-- Second half of the users rewrite: a row for every changed user who played a song, as every
-- published event gives it. A backfill of old days never brings back an older level, and a
-- corrected day that took a user's latest event away gives the one before it.
INSERT INTO users (user_id, first_name, last_name, gender, level, last_event_at)
SELECT user_id, first_name, last_name, gender, level, last_event_at
FROM users_latest;
