-- Dimension: one row per user who played a song, with the attributes of their latest event across
-- every load. last_event_at is that event's time: a load replaces a user's row only with an event
-- at least as recent, so a backfill of old days never brings back an old level.
-- DISTSTYLE ALL: about a hundred rows; a copy on every node makes every join to it local.
CREATE TABLE IF NOT EXISTS users (
    user_id       INTEGER      NOT NULL,
    first_name    VARCHAR(256),
    last_name     VARCHAR(256),
    gender        VARCHAR(8),
    level         VARCHAR(16)  NOT NULL,
    last_event_at TIMESTAMP    NOT NULL,
    PRIMARY KEY (user_id)
)
DISTSTYLE ALL
SORTKEY (user_id);
