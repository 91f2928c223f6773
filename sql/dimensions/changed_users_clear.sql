-- Every changed user's row is rewritten: the list is done with.
DELETE FROM changed_users;
