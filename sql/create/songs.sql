-- Dimension: one row per song_id.
-- DISTKEY(song_id) matches songplays, the join analysts run most ("most played songs").
CREATE TABLE IF NOT EXISTS songs (
    song_id   VARCHAR(32)  NOT NULL,
    title     VARCHAR(512) NOT NULL,
    artist_id VARCHAR(32)  NOT NULL,
    year      INTEGER,
    duration  DOUBLE PRECISION,
    PRIMARY KEY (song_id),
    FOREIGN KEY (artist_id) REFERENCES artists (artist_id)
)
DISTSTYLE KEY
DISTKEY (song_id)
SORTKEY (song_id);
