-- The records COPY rejected from the data bucket since this execution started: (file, line,
-- column, code, reason). verify-counts keeps those of the objects this execution loaded, which it
-- then asks the ledger about (sql/verify/rejected_objects.sql, only when there are any). A system
-- view is not joined with a table here, the strict reading (Redshift runs some system views on the
-- leader node only), hence the second question. SYS_LOAD_ERROR_DETAIL exists on provisioned
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
