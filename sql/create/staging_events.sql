-- The event store: every line of every log object the pipeline has loaded, one row per line,
-- loaded by COPY through the JSONPaths file (columns in the JSONPaths order). Kept between runs,
-- as staging_songs is: songplays and users are derived from it, so a play whose song arrives
-- later is matched then (load-facts), and a corrected log object replaces its lines exactly.
-- user_id stays text as the logs write it (a string of digits, empty on logged-out events, which
-- COPY's EMPTYASNULL loads as NULL); the transforms cast it.
-- DISTKEY(song_key): songplays join events to songs on it, so distributing both staging tables on
-- it keeps that join node-local. The price: lines that are not plays (1,236 of the real data
-- set's 8,056: logins, page views) have no song_key and share one slice; SVV_TABLE_INFO.skew_rows
-- shows it. If that slice becomes the slow one, DISTSTYLE EVEN here and a broadcast of the changed
-- songs is the other choice.
-- SORTKEY(ts): the transforms pick each user's latest event and filter on page.
-- Not in the logs, set by copy-staging on every row it stages:
--   run_id: the execution that loaded the row; object_key: the log object it came from (the
--   ledger counts rows per object, and a reload replaces the object's rows);
--   published: false while the execution that staged the row has not published it (load-facts
--   does, in the transaction that records its object in the ledger); rows of an execution that
--   ended before publishing are removed by a later one (sql/reap/). Only published rows feed the
--   star schema.
--   user_number: the user id as a number, when it is a whole number of 1 to 9 digits ("07" and
--   "7" are one user); NULL otherwise (logged out, or refused: sql/verify/refused_events.sql).
--   play_key: for a NextSong line with a user number, a session and an item, MD5 of that natural
--   key, the songplay_id its play has; NULL for every other line. Worked out once, as the line is
--   staged, so the transforms join on it rather than hashing the store again.
--   song_key: for a NextSong line naming a song and an artist, MD5 of the pair as Redshift compares
--   it (trailing blanks dropped: "Trailing spaces in VARCHAR and CHAR values are treated as
--   semantically insignificant when values are compared"), length-prefixed so no two pairs share
--   it; staging_songs' song_key is the same of (title, artist_name). Plays match songs on it.
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
    object_key      VARCHAR(1024),
    published       BOOLEAN,
    user_number     INTEGER,
    play_key        CHAR(32),
    song_key        CHAR(32)
)
DISTSTYLE KEY
DISTKEY (song_key)
SORTKEY (ts);
