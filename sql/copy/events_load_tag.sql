-- Tags the rows the COPY before it loaded (the only untagged ones) with their execution and object.
UPDATE events_load
SET run_id = {{run}}, object_key = {{object_key}}
WHERE object_key IS NULL;
