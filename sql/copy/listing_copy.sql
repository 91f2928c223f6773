-- The execution's listing: the parts copy-staging wrote to the manifest bucket, named by a
-- manifest (every part mandatory), one JSON object per line whose keys are load_listing's columns.
COPY load_listing
FROM {{manifest}}
IAM_ROLE {{copy_role_arn}}
REGION {{region}}
MANIFEST
FORMAT AS JSON 'auto'
COMPUPDATE OFF
STATUPDATE OFF;
