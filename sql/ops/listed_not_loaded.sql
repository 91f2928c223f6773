-- `./dev status`: objects a run listed but has not loaded (yet), by the run and kind: the rest of
-- a run still loading, or of one that ended part way (its continuation loads them; an older
-- listing is cleared after a day). An object is loaded when the ledger has it with the listed
-- ETag; a quarantined object with that ETag waits for the operator, not for a run.
SELECT l.run_id, l.kind, COUNT(*) AS objects, MIN(l.listed_at) AS listed_at
FROM load_listing l
WHERE NOT EXISTS (
        SELECT 1 FROM load_ledger g WHERE g.object_key = l.object_key AND g.etag = l.etag)
    AND NOT EXISTS (
        SELECT 1 FROM load_quarantine q WHERE q.object_key = l.object_key AND q.etag = l.etag)
GROUP BY l.run_id, l.kind
ORDER BY listed_at, l.run_id, l.kind;
