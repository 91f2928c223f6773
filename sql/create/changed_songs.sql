-- Songs whose catalogue row a song round added or replaced since load-facts last ran: their plays
-- are matched again (a play that waited for its song, or one whose song's title or artist name
-- changed). Written by copy-staging's song rounds, emptied by load-facts in the transaction that
-- matches them, whichever execution that is: an execution that ends part way leaves them to the
-- next one.
CREATE TABLE IF NOT EXISTS changed_songs (
    song_id VARCHAR(32) NOT NULL
)
DISTSTYLE ALL;
