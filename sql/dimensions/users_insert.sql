-- Second half of the users upsert: a row for every user without one who played a song in this
-- execution or had a row before it (the row the first half replaced).
INSERT INTO users (user_id, first_name, last_name, gender, level, last_event_at)
SELECT l.user_id, l.first_name, l.last_name, l.gender, l.level, l.last_event_at
FROM users_latest l
WHERE (l.played OR l.known)
  AND NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = l.user_id);
