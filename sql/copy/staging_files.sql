-- Records the objects this round stages: the object list copy-staging wrote beside the manifests,
-- one JSON object per line whose keys are staging_files' columns.
COPY staging_files
FROM {{objects_source}}
IAM_ROLE {{copy_role_arn}}
REGION {{region}}
FORMAT AS JSON 'auto'
COMPUPDATE OFF
STATUPDATE OFF;
