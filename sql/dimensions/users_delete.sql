-- First half of the users rewrite: remove the changed users' rows.
DELETE FROM users
WHERE user_id IN (SELECT user_id FROM changed_users);
