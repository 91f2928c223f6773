-- The song objects of this round are in the catalogue once it commits: their earlier records
-- (another execution's) leave the ledger. The execution's earlier rounds recorded theirs already
-- (staging_files holds every song object of the execution, and no round stages an object an
-- earlier round of it staged): rewriting those again would make each round write every record
-- of the rounds before it, and a first load of a million song objects rewrite 25 million.
DELETE FROM load_ledger
WHERE object_key IN (SELECT object_key FROM staging_files WHERE run_id = {{run}} AND kind = 'songs')
  AND run_id <> {{run}};
