-- Before the readers' grants: one create-tables grants at a time, so two runs never update the
-- same tables' privileges at once (PostgreSQL fails the second with "tuple concurrently updated";
-- Redshift's GRANT pages say nothing of concurrent grants: the strict reading). load_listing is
-- the first table of the one lock order (sparkify::sql::catalogue::LOCK_ORDER), so the reap's
-- LOCK after it keeps the order, and no analyst reads it.
LOCK load_listing;
