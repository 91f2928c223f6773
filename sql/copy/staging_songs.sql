-- Loads every song object of the round, listed in its manifest; keys equal the column names, so
-- 'auto'.
COPY songs_load
FROM {{manifest}}
IAM_ROLE {{copy_role_arn}}
REGION {{region}}
MANIFEST
FORMAT AS JSON 'auto'
MAXERROR {{max_errors}}
TRUNCATECOLUMNS
BLANKSASNULL
EMPTYASNULL
COMPUPDATE OFF
STATUPDATE OFF;
