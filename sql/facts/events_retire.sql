-- The lines of the earlier versions of this execution's objects leave the event store: the lines
-- it staged replace them (a corrected day's lines that are gone are gone from every table).
DELETE FROM staging_events
WHERE published
  AND object_key IN (SELECT object_key FROM run_objects);
