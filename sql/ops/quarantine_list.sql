-- `./dev quarantine list` and `./dev status`: the quarantined objects and why, the latest first
-- (sql/create/load_quarantine.sql says what each column means).
SELECT object_key, etag, size_bytes, reason, error, first_seen, last_seen, runs, last_run
FROM load_quarantine
ORDER BY last_seen DESC, object_key;
