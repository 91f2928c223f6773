-- A log object's quarantine row as it is now: a new row, or the one it had with the new ETag, size
-- and error and one more run (first_seen and runs come from the row it had, if any). The
-- aggregate over that row gives exactly one row whether or not it exists. Seen at the statement's
-- start (GETDATE()), written in the SQL rather than as a literal, so a retried call's batch under the
-- same client token is the same SQL.
INSERT INTO load_quarantine (object_key, etag, size_bytes, reason, error, first_seen, last_seen, runs, last_run)
SELECT {{object_key}}, {{etag}}, {{size_bytes}}, {{reason}}, {{error}},
       COALESCE(MIN(first_seen), GETDATE()), GETDATE(), COALESCE(MAX(runs), 0) + 1, {{run}}
FROM load_quarantine
WHERE object_key = {{object_key}};
