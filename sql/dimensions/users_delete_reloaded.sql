-- First half of the users upsert: remove the rows this execution has an event at least as recent
-- for. A row with a later event stays: loading old days (a backfill) never brings back an old level.
DELETE FROM users
USING users_latest l
WHERE users.user_id = l.user_id
  AND users.last_event_at <= l.last_event_at;
