-- The start times of the plays this batch rewrites, as they are before it: those no play has any
-- more afterwards leave the time dimension. Private to this session.
CREATE TEMP TABLE affected_times AS
SELECT DISTINCT start_time
FROM songplays
WHERE songplay_id IN (SELECT songplay_id FROM affected_plays);
