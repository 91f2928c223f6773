-- The time dimension holds exactly the start times of songplays: remove those of the rewritten
-- plays that no play has any more (a corrected log object can take plays away).
DELETE FROM time
WHERE start_time IN (SELECT start_time FROM affected_times)
  AND NOT EXISTS (SELECT 1 FROM songplays sp WHERE sp.start_time = time.start_time);
