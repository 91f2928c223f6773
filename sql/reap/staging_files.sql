-- The object records of the same ended executions (sql/reap/staging_events.sql), after their rows.
DELETE FROM staging_files
WHERE staged_at < {{started}}
  AND run_id NOT IN ({{running}});
