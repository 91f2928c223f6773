-- Fact: one row per NextSong event (of the published events in staging_events) that matches a
-- song in the catalogue, whatever order the event and the song arrived in.
-- songplay_id is MD5 of the event's natural key (session, item in session, user id as a number),
-- so every run gives the same event the same id; Redshift does not enforce keys, the transforms do.
-- source_key is the log object the play was loaded from: reloading a changed object first removes
-- every play it gave before, so plays dropped from the new version go too.
-- DISTKEY(song_id): the largest dimension, songs, is distributed on the same key, so the analysts'
-- "most played songs" join is node-local. SORTKEY(start_time): queries filter on time ranges and
-- group by hour, and loads append in time order.
CREATE TABLE IF NOT EXISTS songplays (
    songplay_id CHAR(32)     NOT NULL,
    start_time  TIMESTAMP    NOT NULL,
    user_id     INTEGER      NOT NULL,
    level       VARCHAR(16),
    song_id     VARCHAR(32)  NOT NULL,
    artist_id   VARCHAR(32)  NOT NULL,
    session_id  INTEGER      NOT NULL,
    location    VARCHAR(512),
    user_agent  VARCHAR(512),
    source_key  VARCHAR(1024) NOT NULL,
    PRIMARY KEY (songplay_id),
    FOREIGN KEY (start_time) REFERENCES time (start_time),
    FOREIGN KEY (user_id) REFERENCES users (user_id),
    FOREIGN KEY (song_id) REFERENCES songs (song_id),
    FOREIGN KEY (artist_id) REFERENCES artists (artist_id)
)
DISTSTYLE KEY
DISTKEY (song_id)
SORTKEY (start_time);
