-- The start times of the rewritten plays (sql/facts/time_new.sql) not yet in the dimension. A time
-- row is a pure function of its start_time, so inserting only the missing ones is the whole upsert.
-- weekday: 0 = Sunday .. 6 = Saturday (EXTRACT(DOW)); week: ISO week number.
INSERT INTO time (start_time, hour, day, week, month, year, weekday)
SELECT
    sp.start_time,
    EXTRACT(HOUR FROM sp.start_time),
    EXTRACT(DAY FROM sp.start_time),
    EXTRACT(WEEK FROM sp.start_time),
    EXTRACT(MONTH FROM sp.start_time),
    EXTRACT(YEAR FROM sp.start_time),
    EXTRACT(DOW FROM sp.start_time)
FROM new_times sp
WHERE NOT EXISTS (SELECT 1 FROM time t WHERE t.start_time = sp.start_time);
