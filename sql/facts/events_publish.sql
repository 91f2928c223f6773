-- This execution's lines join the event store, in the transaction that records their objects in
-- the ledger.
UPDATE staging_events
SET published = TRUE
WHERE run_id = {{run}} AND NOT published;
