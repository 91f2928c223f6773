-- Which of the objects named by the run's load errors this execution loaded: verify-counts sends
-- this only when sql/verify/load_errors.sql found any, with those objects' keys (one statement per
-- part of the keys, each well under the Data API's 100 KB of SQL). The ledger holds every object
-- the execution loaded under its run_id (song objects from copy-staging, log objects from
-- load-dimensions), so the answer is bounded by the load errors, not by what the run staged.
SELECT object_key FROM load_ledger WHERE run_id = {{run}} AND object_key IN ({{keys}}) ORDER BY object_key;
