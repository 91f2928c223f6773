-- First half of the songplays rewrite: remove every play this batch derives again.
DELETE FROM songplays
WHERE songplay_id IN (SELECT songplay_id FROM affected_plays);
