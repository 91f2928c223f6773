-- What copy-staging plans every round after the first against. Songs all go in the first round, so
-- later rounds read only the log prefix's part of the ledger and of this execution's staged
-- objects (reading the song part again each round made a load's planning grow with songs × days),
-- and the quarantine, which holds log objects only.
SELECT 'loaded' AS state, object_key, etag FROM load_ledger
WHERE LEFT(object_key, {{prefix_length}}) = {{log_prefix}}
UNION ALL
SELECT 'quarantined', object_key, etag FROM load_quarantine
UNION ALL
SELECT 'staged', object_key, etag FROM staging_files
WHERE run_id = {{run}} AND LEFT(object_key, {{prefix_length}}) = {{log_prefix}}
ORDER BY 1, 2;
