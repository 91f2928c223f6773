-- First statement: one execution at a time replaces plays. Taken before any read, so this batch
-- sees every play committed before it.
LOCK songplays;
