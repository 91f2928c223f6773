-- Loads every song file under the song prefix; their keys equal the column names, so 'auto'.
COPY staging_songs
FROM {{songs_source}}
IAM_ROLE {{copy_role_arn}}
REGION {{region}}
FORMAT AS JSON 'auto'
MAXERROR {{max_errors}}
TRUNCATECOLUMNS
BLANKSASNULL
EMPTYASNULL
COMPUPDATE OFF
STATUPDATE OFF;
