-- First statement of a round that loads log objects only: the tables it writes, in the pipeline's
-- one lock order (sql/copy/lock_catalogue.sql).
LOCK staging_files, staging_events;
