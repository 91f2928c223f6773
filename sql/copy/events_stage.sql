-- Stages the round's tagged log rows for load-facts and load-dimensions.
INSERT INTO staging_events SELECT * FROM events_load;
