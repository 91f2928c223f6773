-- Loads one log object, named by its one-entry manifest: a manifest loads exactly the objects it
-- lists (a key used as a prefix would also load every key that starts with it).
-- The JSONPaths file maps the camelCase keys to the listed columns by position.
-- Every placeholder is filled with a vetted, quoted literal from configuration or an S3 listing,
-- and the compression placeholder with the object's codec keyword, told by its name (GZIP for .gz, BZIP2 for
-- .bz2, ZSTD for .zst, nothing for plain JSON).
COPY events_load (
    artist, auth, first_name, gender, item_in_session, last_name, length, level, location,
    method, page, registration, session_id, song, status, ts, user_agent, user_id
)
FROM {{manifest}}
IAM_ROLE {{copy_role_arn}}
REGION {{region}}
MANIFEST
FORMAT AS JSON {{jsonpaths}}
{{compression}}
MAXERROR {{max_errors}}
TRUNCATECOLUMNS
BLANKSASNULL
EMPTYASNULL
COMPUPDATE OFF
STATUPDATE OFF;
