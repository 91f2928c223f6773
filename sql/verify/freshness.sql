-- How fresh the star schema is: the start time of the newest play in songplays, NULL when there
-- is none. verify-counts reports it (newest_play) and writes its age as the NewestPlayAgeHours
-- metric (crates/sparkify/src/metrics.rs). songplays is sorted by start_time, so Redshift's zone
-- maps answer it from the last blocks.
SELECT MAX(start_time) AS newest_play FROM songplays;
