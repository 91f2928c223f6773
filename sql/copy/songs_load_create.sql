-- The round's song rows land here first, private to this session.
CREATE TEMP TABLE songs_load (LIKE staging_songs);
