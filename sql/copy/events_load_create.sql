-- The round's log rows land here first, private to this session, so each object's rows can be
-- tagged with its key before any other execution could see them.
CREATE TEMP TABLE events_load (LIKE staging_events);
