-- The S3 objects each execution has staged and not yet published: what copy-staging planned
-- (key, ETag, size), loaded by COPY from the object list the function writes beside the manifests.
-- load-dimensions moves an execution's log objects into load_ledger with their row counts, and
-- verify-counts removes the execution's rows at the end of the run.
CREATE TABLE IF NOT EXISTS staging_files (
    run_id     VARCHAR(80)   NOT NULL,
    object_key VARCHAR(1024) NOT NULL,
    kind       VARCHAR(8)    NOT NULL,
    etag       VARCHAR(64)   NOT NULL,
    size_bytes BIGINT        NOT NULL,
    staged_at  TIMESTAMP     NOT NULL
)
DISTSTYLE ALL
SORTKEY (run_id);
