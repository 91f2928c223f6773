-- `./dev quarantine retry KEY`: the ledger's row of one object once its run ended, if it loaded
-- (none if not). :key is the object's key, a Data API parameter.
SELECT object_key, kind, etag, run_id, loaded_at FROM load_ledger WHERE object_key = :key;
