-- Loads the event logs from the events source: the log prefix on a full load (every object whose
-- key starts with it), or the one new object on a new-file run.
-- The JSONPaths file maps the camelCase keys to the columns by position.
-- Every placeholder is filled with a vetted, quoted literal from configuration or a checked S3 key.
COPY staging_events
FROM {{events_source}}
IAM_ROLE {{copy_role_arn}}
REGION {{region}}
FORMAT AS JSON {{jsonpaths}}
MAXERROR {{max_errors}}
TRUNCATECOLUMNS
BLANKSASNULL
EMPTYASNULL
COMPUPDATE OFF
STATUPDATE OFF;
