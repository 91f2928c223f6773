-- Log objects left out of every load because their content fails COPY: more rejected lines than
-- MaxLoadErrors, a JSON object over 4 MB, or no JSON at all. copy-staging records one when its
-- COPY fails for its content in a round and again alone; later runs skip the object while its
-- ETag is the one recorded here. A changed object (another ETag) is tried again: if it loads,
-- load-dimensions removes it from here when it enters load_ledger; if it fails, its row is renewed.
--   reason: what failed, in words; error: Redshift's own text for the failed COPY.
--   first_seen, last_seen: when a run's COPY first and last failed on it (UTC); runs: how many
--   runs' COPYs failed on it; last_run: the last of them.
-- Delete a row to have the next run try the object again (docs/runbook.md, Quarantined objects).
-- One row per object, which the quarantine batch keeps so; no PRIMARY KEY is declared, since that
-- batch holds two rows of one object for a moment and Redshift's planner trusts declared keys.
CREATE TABLE IF NOT EXISTS load_quarantine (
    object_key VARCHAR(1024) NOT NULL,
    etag       VARCHAR(64)   NOT NULL,
    size_bytes BIGINT        NOT NULL,
    reason     VARCHAR(256)  NOT NULL,
    error      VARCHAR(1024) NOT NULL,
    first_seen TIMESTAMP     NOT NULL,
    last_seen  TIMESTAMP     NOT NULL,
    runs       INTEGER       NOT NULL,
    last_run   VARCHAR(80)   NOT NULL
)
DISTSTYLE ALL
SORTKEY (object_key);
