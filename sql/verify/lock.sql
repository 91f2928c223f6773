-- First statement: every table the batch reads or clears, in the pipeline's one lock order
-- (load_listing, load_ledger, load_quarantine, staging_files, staging_events, staging_songs,
-- changed_songs, changed_users, songplays, users, songs, artists, time). Redshift's LOCK is ACCESS
-- EXCLUSIVE and makes readers wait too, so a batch that read a table before locking another could
-- deadlock with one that locked them the other way round.
LOCK load_listing, staging_files, staging_events, staging_songs, changed_songs, changed_users, songplays, users, songs, artists, time;
