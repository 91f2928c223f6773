-- Plays per hour of the day (UTC), to size capacity and schedule maintenance.
SELECT t.hour, COUNT(*) AS plays
FROM songplays sp
JOIN time t ON t.start_time = sp.start_time
GROUP BY t.hour
ORDER BY t.hour;
