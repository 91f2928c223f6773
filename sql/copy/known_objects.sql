-- What copy-staging plans against: every object already loaded (with the ETag it had), every log
-- object in quarantine (with the ETag that failed), and every object this execution has staged in
-- an earlier round and not yet published.
SELECT 'loaded' AS state, object_key, etag FROM load_ledger
UNION ALL
SELECT 'quarantined', object_key, etag FROM load_quarantine
UNION ALL
SELECT 'staged', object_key, etag FROM staging_files WHERE run_id = {{run}}
ORDER BY 1, 2;
