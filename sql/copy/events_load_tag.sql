-- Tags the rows the COPY before it loaded (the only untagged ones) with their execution and object,
-- as not yet published (load-facts publishes them).
UPDATE events_load
SET run_id = {{run}}, object_key = {{object_key}}, published = FALSE
WHERE object_key IS NULL;
