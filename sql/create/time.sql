-- Dimension: one row per distinct songplay start_time, broken into calendar parts.
-- DISTSTYLE ALL and SORTKEY(start_time): "plays by hour" joins songplays to it on start_time;
-- at Sparkify's size (one row per play second) replication is cheap. Revisit if it reaches
-- tens of millions of rows: then DISTKEY(start_time) on both time and songplays.
CREATE TABLE IF NOT EXISTS time (
    start_time TIMESTAMP NOT NULL,
    hour       SMALLINT  NOT NULL,
    day        SMALLINT  NOT NULL,
    week       SMALLINT  NOT NULL,
    month      SMALLINT  NOT NULL,
    year       SMALLINT  NOT NULL,
    weekday    SMALLINT  NOT NULL,
    PRIMARY KEY (start_time)
)
DISTSTYLE ALL
SORTKEY (start_time);
