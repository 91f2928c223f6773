-- Raw song metadata, one row per song file, loaded by COPY with JSON 'auto' (keys match columns).
-- DISTKEY(artist_name): co-located with staging_events.artist for the songplays join.
CREATE TABLE IF NOT EXISTS staging_songs (
    num_songs        INTEGER,
    artist_id        VARCHAR(32),
    artist_latitude  DOUBLE PRECISION,
    artist_longitude DOUBLE PRECISION,
    artist_location  VARCHAR(512),
    artist_name      VARCHAR(512),
    song_id          VARCHAR(32),
    title            VARCHAR(512),
    duration         DOUBLE PRECISION,
    year             INTEGER
)
DISTSTYLE KEY
DISTKEY (artist_name)
SORTKEY (song_id);
