-- Plays and listeners by subscription level at the time of the play.
SELECT sp.level, COUNT(*) AS plays, COUNT(DISTINCT sp.user_id) AS listeners
FROM songplays sp
GROUP BY sp.level
ORDER BY sp.level;
