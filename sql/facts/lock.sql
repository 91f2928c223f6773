-- First statement: every table the batch touches, in the pipeline's one lock order (load_listing,
-- load_ledger, load_quarantine, staging_files, staging_events, staging_songs, changed_songs,
-- changed_users, songplays, users, songs, artists, time), so no two executions' batches deadlock.
-- One execution at a time then publishes its events and rewrites the plays they and the changed
-- songs touch; taken before any read, so this batch sees every commit made before it.
LOCK load_ledger, load_quarantine, staging_files, staging_events, staging_songs, changed_songs, changed_users, songplays, time;
