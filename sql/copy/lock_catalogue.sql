-- First statement of a round that loads song objects: every table the round touches, in the
-- pipeline's one lock order (load_listing, load_ledger, load_quarantine, staging_files,
-- staging_events, staging_songs, changed_songs, changed_users, songplays, users, songs, artists,
-- time), so no two executions' batches deadlock. One execution at a time then replaces songs in
-- the catalogue, their songs and artists rows, records song objects in the ledger and releases
-- those that were in quarantine. Taken
-- before any read, so the round sees every commit made before it (Redshift's LOCK is ACCESS
-- EXCLUSIVE).
LOCK load_ledger, load_quarantine, staging_files, staging_songs, changed_songs, songs, artists;
