-- The rest of the listing becomes the listing of the execution that takes it on (the state machine
-- starts it as this one ends, under this name), which plans its rounds against it as if it had
-- listed it (sql/create/load_listing.sql). Handed over now: a chain of continuations longer than a
-- day keeps its listing (listings older than a day are removed as left by runs that ended part
-- way); GETDATE() rather than a literal, so a retried call's batch is the same SQL. Objects in quarantine stay listed: every plan leaves them out.
UPDATE load_listing
SET run_id = {{next}}, listed_at = GETDATE()
WHERE run_id = {{run}};
