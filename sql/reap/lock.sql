-- First statement of the clean-up: the tables it deletes from, in the pipeline's one lock order
-- (load_listing, load_ledger, load_quarantine, staging_files, staging_events, staging_songs,
-- changed_songs, changed_users, songplays, users, songs, artists, time), as every batch that writes
-- takes them, so no two executions' batches deadlock.
LOCK staging_files, staging_events;
