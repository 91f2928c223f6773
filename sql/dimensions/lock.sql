-- First statement: one execution at a time writes the dimensions and the ledger. Taken before any
-- read, so this batch sees every commit made before it.
LOCK users, songs, artists, time, load_ledger;
