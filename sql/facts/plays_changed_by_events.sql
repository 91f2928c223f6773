-- The plays whose events change: the natural keys (session, item in session, user id as a number:
-- "07" and "7" are one user) of the NextSong lines this execution staged, and of the lines of the
-- earlier versions of its objects, which this batch removes. Private to this session.
CREATE TEMP TABLE affected_plays AS
SELECT DISTINCT
    MD5(CAST(session_id AS VARCHAR) || ':' || CAST(item_in_session AS VARCHAR) || ':' || CAST(user_number AS VARCHAR)) AS songplay_id
FROM (
    SELECT
        session_id,
        item_in_session,
        CASE WHEN user_id ~ '^[0-9]{1,9}$' THEN CAST(user_id AS INTEGER) END AS user_number
    FROM staging_events
    WHERE page = 'NextSong'
      AND ((run_id = {{run}} AND NOT published)
           OR (published AND run_id <> {{run}} AND object_key IN (SELECT object_key FROM run_objects)))
) lines
WHERE user_number IS NOT NULL
  AND session_id IS NOT NULL
  AND item_in_session IS NOT NULL;
