-- Before the readers' grants: every table they name, in the one lock order
-- (sparkify::sql::catalogue::LOCK_ORDER), first in create-tables' batch after the check that the
-- tables exist (or after the CREATEs that make them), in place of the reap's LOCK, which it covers. Redshift's GRANT and LOCK pages say nothing of whether a GRANT takes its
-- tables' locks or of concurrent GRANTs on one table (PostgreSQL fails the second with "tuple
-- concurrently updated"): the strict reading is that it may, so one create-tables grants at a
-- time and never holds one table while waiting for an earlier one. The price: with readers
-- configured, a run's create-tables waits for every statement on these tables to end, an
-- analyst's long query included (docs/deploy.md, Readers).
LOCK load_listing, load_ledger, load_quarantine, staging_files, staging_events, staging_songs,
    changed_songs, changed_users, songplays, users, songs, artists, time;
