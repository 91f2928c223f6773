-- What the analysts' database role (READER_ROLE) may do: read the star schema, and nothing else
-- (docs/deploy.md, Readers). A superuser creates the role once; create-tables, which owns the
-- tables ("To grant privileges on an object, you must ... Be the object owner": GRANT usage
-- notes), grants it on every run, so the tables a reset creates anew are granted too.
GRANT SELECT ON TABLE songplays, users, songs, artists, time TO ROLE {{analysts}};
