-- The start times of the rewritten plays, as they are now. Private to this session. A table of its
-- own rather than an anti-join from songplays: songplays declares start_time a foreign key to
-- time, which Redshift does not enforce but may plan with ("Defining table constraints": it
-- assumes keys are valid as loaded), and here, between the plays' insert and their times', the key
-- is exactly what is not yet true. A temporary table declares no key.
CREATE TEMP TABLE new_times AS
SELECT DISTINCT start_time
FROM songplays
WHERE songplay_id IN (SELECT songplay_id FROM affected_plays);
