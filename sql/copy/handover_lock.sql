-- First statement of the batch that hands what this execution left to the next one (its load
-- budget ran out): the tables it reads and writes, in the pipeline's one lock order
-- (sql/copy/lock_catalogue.sql).
LOCK load_listing, staging_files;
