-- First statement of a round that loads song objects: one execution at a time replaces songs in the
-- catalogue and records song objects in the ledger. Taken before any read, so the round sees every
-- commit made before it (Redshift serialises writers the same way).
LOCK staging_songs, load_ledger;
