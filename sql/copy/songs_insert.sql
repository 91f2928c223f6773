-- Second half of the catalogue upsert.
INSERT INTO staging_songs SELECT * FROM songs_load;
