-- Drops every table of the pipeline, facts first. Run only when create-tables is asked to reset.
DROP TABLE IF EXISTS songplays, users, songs, artists, time, staging_events, staging_songs, changed_songs, changed_users, staging_files, load_ledger, load_quarantine, load_listing CASCADE;
