-- The song catalogue as the song files give it, one row per song, loaded by COPY with JSON 'auto'
-- (keys match columns). Kept between runs, as staging_events is: a run COPYs only the song
-- objects the ledger has not seen and replaces the songs they hold (by song_id: a song is its
-- song_id, so a song a later version of its object no longer holds stays, as a deleted object's
-- songs do), and songplays join it on the artist name each song file gives, which the artists
-- dimension cannot keep (an artist appears under several names). The round that changes it also
-- rewrites those songs' songs and artists rows and lists them in changed_songs.
-- song_key: MD5 of (title, artist_name) as Redshift compares them, length-prefixed; NULL when
-- either is missing (sql/create/staging_events.sql): plays match songs on it, set as a song round
-- stages its songs (sql/copy/songs_keyed.sql).
-- DISTKEY(song_key): co-located with staging_events.song_key for the songplays join.
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
    year             INTEGER,
    song_key         CHAR(32)
)
DISTSTYLE KEY
DISTKEY (song_key)
SORTKEY (song_id);
