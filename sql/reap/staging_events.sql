-- Staged lines left by executions that ended before publishing them (stopped, timed out or failed
-- part way): create-tables removes them at the start of a later execution. Published lines are
-- the event store and stay. The list is of the executions that were running when that execution
-- started, its own among them, and the time is when it started: an execution that started later
-- stages rows newer than that, so its rows are never touched.
-- The EXISTS asks once whether any such execution left files (an uncorrelated condition, which a
-- planner may decide before reading the event store, as PostgreSQL does): after executions that
-- ended well, as most do, none did, and the event store need not be read. It removes no row the
-- IN would keep: with no such file, the IN matches nothing.
DELETE FROM staging_events
WHERE NOT published
  AND run_id IN (
    SELECT run_id
    FROM staging_files
    WHERE staged_at < {{started}}
      AND run_id NOT IN ({{running}})
  )
  AND EXISTS (
    SELECT 1
    FROM staging_files
    WHERE staged_at < {{started}}
      AND run_id NOT IN ({{running}})
  );
