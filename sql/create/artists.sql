-- Dimension: one row per artist_id (attributes chosen as documented in dimensions/artists_insert.sql).
-- DISTSTYLE ALL: ten thousand narrow rows; replicated so joins from songplays and songs stay local.
CREATE TABLE IF NOT EXISTS artists (
    artist_id VARCHAR(32)  NOT NULL,
    name      VARCHAR(512) NOT NULL,
    location  VARCHAR(512),
    latitude  DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    PRIMARY KEY (artist_id)
)
DISTSTYLE ALL
SORTKEY (artist_id);
