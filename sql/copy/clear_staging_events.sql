-- DELETE, not TRUNCATE: TRUNCATE commits the open transaction in Redshift, which would break the
-- all-or-nothing batch this runs in.
DELETE FROM staging_events;
