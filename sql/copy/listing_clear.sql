-- Rows of this execution from an earlier try of this batch, and rows older than a day, which only
-- an execution that ended part way leaves (sql/create/load_listing.sql). Another execution's
-- current listing is never touched. The day is counted in the SQL (GETDATE()), so a retried call's
-- batch under the same client token is the same SQL.
DELETE FROM load_listing
WHERE run_id = {{run}}
   OR listed_at < GETDATE() - INTERVAL '1 day';
