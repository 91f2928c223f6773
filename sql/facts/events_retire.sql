-- The lines of the earlier versions of this execution's objects leave the event store: the lines
-- it staged replace them (a corrected day's lines that are gone are gone from every table). Never
-- this execution's own lines, so a batch that runs again publishes them again rather than losing
-- them.
DELETE FROM staging_events
WHERE published
  AND run_id <> {{run}}
  AND object_key IN (SELECT object_key FROM run_objects);
