-- Staged lines left by executions that ended before publishing them (stopped, timed out or failed
-- part way): create-tables removes them at the start of a later execution. Published lines are
-- the event store and stay. The list is of the executions that were running when that execution
-- started, its own among them, and the time is when it started: an execution that started later
-- stages rows newer than that, so its rows are never touched.
DELETE FROM staging_events
WHERE NOT published
  AND run_id IN (
    SELECT run_id
    FROM staging_files
    WHERE staged_at < {{started}}
      AND run_id NOT IN ({{running}})
);
