-- Every changed song's plays are in affected_plays: the list is done with.
DELETE FROM changed_songs;
