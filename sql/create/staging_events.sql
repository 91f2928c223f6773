-- Raw user-activity events, one row per log line, loaded by COPY through the JSONPaths file
-- (columns in the JSONPaths order). user_id stays text as the logs write it (a string of digits,
-- empty on logged-out events, which COPY's EMPTYASNULL loads as NULL); the transforms cast it.
-- DISTKEY(artist): the songplays transform joins events to songs on artist name and title, so
-- distributing both staging tables on the artist name keeps that join node-local.
-- SORTKEY(ts): the transforms pick each user's latest event and filter on page.
-- run_id and object_key are not in the logs: copy-staging sets them on every row it stages, so each
-- execution transforms (and at the end removes) only its own rows, and the ledger counts rows per
-- log object. COPY fills the first 18 columns through the JSONPaths file.
CREATE TABLE IF NOT EXISTS staging_events (
    artist          VARCHAR(512),
    auth            VARCHAR(32),
    first_name      VARCHAR(256),
    gender          VARCHAR(8),
    item_in_session INTEGER,
    last_name       VARCHAR(256),
    length          DOUBLE PRECISION,
    level           VARCHAR(16),
    location        VARCHAR(512),
    method          VARCHAR(16),
    page            VARCHAR(64),
    registration    DOUBLE PRECISION,
    session_id      INTEGER,
    song            VARCHAR(512),
    status          INTEGER,
    ts              BIGINT,
    user_agent      VARCHAR(512),
    user_id         VARCHAR(32),
    run_id          VARCHAR(80),
    object_key      VARCHAR(1024)
)
DISTSTYLE KEY
DISTKEY (artist)
SORTKEY (ts);
