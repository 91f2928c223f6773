-- First in create-tables' batch on a warehouse that has its tables: fails unless all 13 exist
-- (an integer cast of 'missing', evaluated only then), so that batch can take its locks first and
-- needs no CREATE. On Redshift "lock all tables at the beginning of the transaction" ("Managing
-- concurrent write operations"); a CREATE TABLE IF NOT EXISTS of a table that exists may take its
-- lock (the guides are silent: the strict reading), and 13 of them in creation order would hold
-- tables out of the one lock order. When it fails, create-tables sends the batch that creates the
-- missing tables first: nothing else can hold a table that does not exist yet. The names are
-- sparkify::sql::catalogue::LOCK_ORDER (a test holds them equal).
SELECT CAST(CASE WHEN COUNT(*) = 13 THEN '13' ELSE 'missing' END AS INTEGER) AS tables_found
FROM information_schema.tables
WHERE table_schema = 'public'
  AND table_name IN ('load_listing', 'load_ledger', 'load_quarantine', 'staging_files',
                     'staging_events', 'staging_songs', 'changed_songs', 'changed_users',
                     'songplays', 'users', 'songs', 'artists', 'time');
