-- What the operators' database role (OPERATOR_ROLE) may read: every table of the pipeline, the
-- star schema and the event store, the catalogue, the ledger, the quarantine and the working
-- tables, for the runbook (docs/runbook.md), named in the one lock order. Granted on every run,
-- as the analysts' is.
GRANT SELECT ON TABLE load_listing, load_ledger, load_quarantine, staging_files, staging_events,
    staging_songs, changed_songs, changed_users, songplays, users, songs, artists, time
TO ROLE {{operators}};
