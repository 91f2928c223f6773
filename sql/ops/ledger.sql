-- `./dev status`: what the ledger holds, by kind ('events': log objects, 'songs': song objects):
-- how many objects, the rows staged from them (log objects only; NULL for songs, which Redshift
-- does not attribute to the objects of one COPY), and when the last of them was loaded (UTC).
-- Redshift's SUM of a BIGINT is a BIGINT ("SUM function"); the cast says so for the stand-in too,
-- whose PostgreSQL sums to NUMERIC, which the Data API returns as text.
SELECT kind, COUNT(*) AS objects, SUM(rows_loaded)::BIGINT AS rows_loaded,
    MAX(loaded_at) AS last_loaded
FROM load_ledger
GROUP BY kind
ORDER BY kind;
