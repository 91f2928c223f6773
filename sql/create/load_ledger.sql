-- Exactly once per S3 object: one row per object whose rows are in the star schema, with the ETag
-- and size it had when loaded. copy-staging loads an object only when its key is missing here or
-- its ETag differs (a changed object is reloaded and its rows replaced); a backfill reloads the
-- days it names whatever is here.
--   kind: 'events' (a log object) or 'songs' (a song object).
--   rows_loaded: rows staged from a log object (rejected lines excluded). NULL for song objects:
--     one COPY loads all of a run's song objects through a manifest, and Redshift does not
--     attribute rows to the objects of one COPY.
--   run_id: the execution that loaded it; loaded_at: when that execution planned the load (UTC).
CREATE TABLE IF NOT EXISTS load_ledger (
    object_key  VARCHAR(1024) NOT NULL,
    kind        VARCHAR(8)    NOT NULL,
    etag        VARCHAR(64)   NOT NULL,
    size_bytes  BIGINT        NOT NULL,
    rows_loaded BIGINT,
    run_id      VARCHAR(80)   NOT NULL,
    loaded_at   TIMESTAMP     NOT NULL,
    PRIMARY KEY (object_key)
)
DISTSTYLE ALL
SORTKEY (object_key);
