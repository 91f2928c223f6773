-- The time dimension holds exactly the start times of songplays: remove those no play has any more
-- (a changed log object's reload can take plays away).
DELETE FROM time
WHERE NOT EXISTS (SELECT 1 FROM songplays sp WHERE sp.start_time = time.start_time);
