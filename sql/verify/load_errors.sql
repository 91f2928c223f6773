-- The records COPY rejected from the data bucket since this execution started: (file, line,
-- column, code, reason). verify-counts keeps those of the objects this execution staged
-- (sql/verify/run_objects.sql) for the run's output. A system view lives on the leader node and
-- cannot be joined with a table, hence two queries. SYS_LOAD_ERROR_DETAIL exists on provisioned
-- clusters and on Redshift Serverless. DISTINCT: a round resubmitted after a serialization conflict
-- records the same rejects again.
SELECT DISTINCT
    TRIM(file_name) AS file_name,
    line_number,
    TRIM(column_name) AS column_name,
    error_code,
    TRIM(error_message) AS error_message
FROM sys_load_error_detail
WHERE start_time >= {{started}}
  AND file_name LIKE {{bucket_files}}
ORDER BY 1, 2;
