-- The S3 objects one execution listed: what copy-staging plans its rounds against, so that the
-- function never holds the listing or reads the ledger back. copy-staging writes the listing to
-- the manifest bucket in parts as it lists, and one COPY loads it here once per execution; each
-- round's plan (sql/copy/plan_*.sql) is then a query of this table against load_ledger,
-- load_quarantine and staging_files.
--   kind: 'events' (a log object) or 'songs' (a song object).
--   reload: a backfill names the object's day, so it is loaded whatever load_ledger says.
--   listed_at: when the execution listed (UTC). verify-counts removes the execution's rows at the
--   end of the run; the next listing removes rows older than a day, which only an execution that
--   ended part way leaves (a run lasts at most two hours, the state machine's timeout).
CREATE TABLE IF NOT EXISTS load_listing (
    run_id     VARCHAR(80)   NOT NULL,
    kind       VARCHAR(8)    NOT NULL,
    object_key VARCHAR(1024) NOT NULL,
    etag       VARCHAR(64)   NOT NULL,
    size_bytes BIGINT        NOT NULL,
    reload     BOOLEAN       NOT NULL,
    listed_at  TIMESTAMP     NOT NULL
)
DISTSTYLE EVEN
SORTKEY (run_id, kind, object_key);
