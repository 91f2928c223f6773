//! Load errors: every record a COPY rejects is kept as a [`LoadError`] (file, line, column, reason)
//! and written to the load-error views after the transaction ends, whether it committed or not,
//! as Redshift's system tables are.

use tokio_postgres::Client;

/// One rejected record, as `stl_load_errors` records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub table: String,
    pub file: String,
    pub line: i64,
    pub column: String,
    pub column_type: String,
    pub raw_line: String,
    pub raw_value: String,
    pub code: i32,
    pub reason: String,
}

/// Writes load errors to the load-error views, outside any transaction, as the admin: they
/// belong to `user` (who ran the COPY; None: the session's user) and to `database`.
pub async fn record_errors(
    client: &Client,
    query: i64,
    user: Option<&str>,
    database: &str,
    errors: &[LoadError],
) -> Result<(), String> {
    let user = user.map_or_else(
        || "CURRENT_USER".to_owned(),
        |name| format!("'{}'", name.replace('\'', "''")),
    );
    let insert = format!(
        "INSERT INTO redshift_local.load_errors (user_name, query, database_name, tbl, table_name, \
         filename, line_number, colname, type, col_length, raw_line, raw_field_value, err_code, err_reason) \
         SELECT {user}, $1, $2, to_regclass($3)::oid::int, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12"
    );
    for error in errors {
        let length = column_length(&error.column_type);
        client
            .execute(
                &insert,
                &[
                    &query,
                    &database,
                    &error.table,
                    &error.file,
                    &error.line,
                    &error.column,
                    &error.column_type,
                    &length,
                    &error.raw_line,
                    &error.raw_value,
                    &error.code,
                    &error.reason,
                ],
            )
            .await
            .map_err(|err| crate::backend::error_text(&err))?;
    }
    Ok(())
}

/// A column type's length limit as the load-error views show it (`32` for `character
/// varying(32)`), empty when it has none.
fn column_length(column_type: &str) -> String {
    column_type
        .split_once('(')
        .and_then(|(_, rest)| rest.split([')', ',']).next())
        .unwrap_or("")
        .to_owned()
}

/// The load-error system views, created at start. The rows live in a table of the stand-in's own
/// that users cannot read; they read them through the views, which show a regular user only their
/// own loads and a superuser, or a user given unrestricted SYSLOG ACCESS
/// ([`crate::privileges::SYSLOG_UNRESTRICTED`]), every load, as Redshift's do. STL_LOAD_ERRORS is in a schema only a
/// cluster target's statements search (a workgroup has no STL views); SYS_LOAD_ERROR_DETAIL has
/// exactly Redshift's columns and types (file_name is character(256), so it comes back padded).
/// Last, PUBLIC's privileges as Redshift gives them: CREATE and USAGE on schema public (which
/// PostgreSQL 15 revoked), and TEMP on the database.
pub const LOAD_ERROR_VIEWS: &str = "
CREATE SCHEMA IF NOT EXISTS redshift_local;
REVOKE ALL ON SCHEMA redshift_local FROM PUBLIC;
DO $$ BEGIN CREATE ROLE redshift_local_syslog_unrestricted NOLOGIN;
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE TABLE IF NOT EXISTS redshift_local.load_errors (
    user_name TEXT NOT NULL, query BIGINT, database_name TEXT, tbl INTEGER, table_name TEXT,
    starttime TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'), session INTEGER DEFAULT pg_backend_pid(),
    transaction_id BIGINT DEFAULT txid_current(), filename TEXT, line_number BIGINT, colname TEXT,
    type TEXT, col_length TEXT, raw_line TEXT, raw_field_value TEXT, err_code INTEGER, err_reason TEXT
);
REVOKE ALL ON redshift_local.load_errors FROM PUBLIC;
CREATE SCHEMA IF NOT EXISTS redshift_local_sys;
CREATE SCHEMA IF NOT EXISTS redshift_local_stl;
GRANT USAGE ON SCHEMA redshift_local_sys, redshift_local_stl TO PUBLIC;
CREATE OR REPLACE VIEW redshift_local_sys.sys_load_error_detail AS
SELECT CAST(r.oid AS INTEGER) AS user_id, e.query AS query_id, e.transaction_id,
       e.session AS session_id, CAST(e.database_name AS CHARACTER(64)) AS database_name,
       e.tbl AS table_id, e.starttime AS start_time, CAST(e.filename AS CHARACTER(256)) AS file_name,
       e.line_number, CAST(e.colname AS CHARACTER(127)) AS column_name,
       CAST(e.type AS CHARACTER(10)) AS column_type, CAST(e.col_length AS CHARACTER(10)) AS column_length,
       0 AS position, e.err_code AS error_code, CAST(e.err_reason AS CHARACTER(512)) AS error_message
FROM redshift_local.load_errors e LEFT JOIN pg_roles r ON r.rolname = e.user_name
WHERE e.user_name = CURRENT_USER OR (SELECT rolsuper FROM pg_roles WHERE rolname = CURRENT_USER)
   OR pg_has_role(CURRENT_USER, 'redshift_local_syslog_unrestricted', 'MEMBER');
CREATE OR REPLACE VIEW redshift_local_stl.stl_load_errors AS
SELECT CAST(r.oid AS INTEGER) AS userid, 0 AS slice, e.tbl, e.starttime, e.session, e.query,
       CAST(e.filename AS CHARACTER(256)) AS filename, e.line_number,
       CAST(e.colname AS CHARACTER(127)) AS colname, CAST(e.type AS CHARACTER(10)) AS type,
       CAST(e.col_length AS CHARACTER(10)) AS col_length, 0 AS position,
       CAST(e.raw_line AS CHARACTER(1024)) AS raw_line,
       CAST(e.raw_field_value AS CHARACTER(1024)) AS raw_field_value, e.err_code,
       CAST(e.err_reason AS CHARACTER(100)) AS err_reason
FROM redshift_local.load_errors e LEFT JOIN pg_roles r ON r.rolname = e.user_name
WHERE e.user_name = CURRENT_USER OR (SELECT rolsuper FROM pg_roles WHERE rolname = CURRENT_USER)
   OR pg_has_role(CURRENT_USER, 'redshift_local_syslog_unrestricted', 'MEMBER');
GRANT SELECT ON redshift_local_sys.sys_load_error_detail, redshift_local_stl.stl_load_errors TO PUBLIC;
GRANT CREATE, USAGE ON SCHEMA public TO PUBLIC;
DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database()); END $$;
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_columns_length_is_what_its_type_allows() {
        assert_eq!(column_length("character varying(32)"), "32");
        assert_eq!(column_length("integer"), "");
    }
}
