-- Records the objects this round stages: the object list copy-staging wrote beside the manifests,
-- one JSON object per line whose keys are staging_files' columns, named by a manifest of its own
-- (a key used as a COPY source is a prefix, which Redshift lists: the manifest saves that LIST).
COPY staging_files
FROM {{manifest}}
IAM_ROLE {{copy_role_arn}}
REGION {{region}}
MANIFEST
FORMAT AS JSON 'auto'
COMPUPDATE OFF
STATUPDATE OFF;
