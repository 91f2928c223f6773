//! What Redshift does not run, refused on the syntax tree before PostgreSQL sees it, so a
//! statement that would fail on Redshift fails here too, with text naming the construct.
//!
//! An allow-list where it can be one, a deny-list of documented gaps where the tree is open-ended:
//! - statements: queries, INSERT, UPDATE, DELETE, MERGE, CREATE TABLE / TABLE AS / VIEW, DROP,
//!   TRUNCATE, LOCK (Redshift's `LOCK name [, ...]`, no mode, no NOWAIT), GRANT, REVOKE,
//!   CREATE ROLE (one name, no options), `ALTER USER ... SYSLOG ACCESS` ([`crate::privileges`]),
//!   transaction control; anything else (CREATE INDEX, CREATE SEQUENCE, CREATE TYPE, ...) fails.
//! - data types (columns and casts): Redshift's own (SMALLINT, INTEGER, BIGINT, DECIMAL, REAL,
//!   DOUBLE PRECISION, BOOLEAN, CHAR, VARCHAR, TEXT, DATE, TIME, TIMETZ, TIMESTAMP, TIMESTAMPTZ,
//!   SUPER, VARBYTE, GEOMETRY, GEOGRAPHY, HLLSKETCH); INTERVAL only in expressions. Arrays, JSON,
//!   JSONB, UUID, BYTEA, SERIAL and the rest of "Unsupported PostgreSQL data types" fail.
//! - CREATE TABLE: CHECK constraints ("Unsupported PostgreSQL features": Check constraints),
//!   DISTKEY with a DISTSTYLE other than KEY, reserved words as table or column names.
//! - queries and DML: ON CONFLICT, RETURNING, DISTINCT ON, LATERAL, an aggregate's FILTER, array
//!   constructors and subscripts, IS [NOT] DISTINCT FROM, and the functions the "Unsupported
//!   PostgreSQL functions" page lists (GENERATE_SERIES, STRING_AGG, ARRAY_AGG, ...).
//! - names: an unquoted reserved word (Redshift's list, e.g. TAG, OPEN, SNAPSHOT) as a table,
//!   column or alias name.
//! - PostgreSQL's server file, large-object and administration functions (`pg_read_file`,
//!   `pg_ls_dir`, `lo_import`, `lo_export`, `pg_reload_conf`, `dblink`, ...) and the ones that run
//!   SQL given as text (`query_to_xml`, ...): Redshift has none of them, and on a PostgreSQL whose
//!   user is a superuser they would reach the machine's files ([`SERVER_FUNCTIONS`]). Redshift's
//!   own system administration functions (CURRENT_SETTING, SET_CONFIG, PG_CANCEL_BACKEND,
//!   PG_TERMINATE_BACKEND) run.
//! - COPY to anything, or from anything but S3 (`COPY ... TO`, `FROM PROGRAM`, `FROM STDIN`, a
//!   file's path): [`copy_refused`] and [`copy_source`], called by [`crate::copy::parse`].
//! - a SYS monitoring view (`sys_load_error_detail`, ...) read in one statement with a table of
//!   the database. The guides let catalog tables (PG_) be joined with tables, with limits, and run
//!   leader-node-only queries apart; of the SYS views they say nothing, so the strict reading:
//!   read them on their own.

use sqlparser::ast::{
    ColumnOption, DataType, Distinct, Expr, Ident, Insert, ObjectName, SelectItem, SetExpr,
    Statement, TableConstraint, TableFactor, Visit, Visitor,
};
use std::ops::ControlFlow;

/// Refuses `statement` if Redshift would: `Err` holds Redshift-style text naming the construct.
pub fn check(statement: &Statement) -> Result<(), String> {
    statement_kind(statement)?;
    if let Statement::CreateTable(table) = statement {
        names(&table.name)?;
        for column in &table.columns {
            name(&column.name)?;
            data_type(&column.data_type, true)?;
            for option in &column.options {
                if let ColumnOption::Check(_) = option.option {
                    return Err(refused("CHECK constraints"));
                }
            }
        }
        if table
            .constraints
            .iter()
            .any(|c| matches!(c, TableConstraint::Check(_)))
        {
            return Err(refused("CHECK constraints"));
        }
        let diststyle = table
            .diststyle
            .as_ref()
            .map(|d| d.to_string().to_uppercase());
        if table.distkey.is_some() && diststyle.as_deref().is_some_and(|d| d != "KEY") {
            return Err(format!(
                "ERROR: DISTKEY is only allowed with DISTSTYLE KEY, not DISTSTYLE {}",
                diststyle.unwrap_or_default()
            ));
        }
    }
    match statement {
        Statement::Insert(insert) => insert_clauses(insert)?,
        Statement::Update(update) if update.returning.is_some() => {
            return Err(refused("RETURNING"));
        }
        Statement::Delete(delete) if delete.returning.is_some() => {
            return Err(refused("RETURNING"));
        }
        _ => {}
    }
    let mut found = Finder::default();
    let _ = statement.visit(&mut found);
    let table = found
        .relations
        .iter()
        .any(|relation| !found.with_names.contains(relation));
    if let (None, Some(view), true) = (&found.problem, &found.system_view, table) {
        return Err(format!(
            "ERROR: the system view {view} cannot be read together with tables in one \
             statement here: read it on its own"
        ));
    }
    found.problem.map_or(Ok(()), Err)
}

fn refused(what: &str) -> String {
    format!("ERROR: {what} are not supported by Amazon Redshift")
}

fn statement_kind(statement: &Statement) -> Result<(), String> {
    match statement {
        Statement::Query(_)
        | Statement::Insert(_)
        | Statement::Update(_)
        | Statement::Delete(_)
        | Statement::Merge(_)
        | Statement::CreateTable(_)
        | Statement::CreateView { .. }
        | Statement::Drop { .. }
        | Statement::Truncate { .. }
        | Statement::Grant { .. }
        | Statement::Revoke { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. } => Ok(()),
        Statement::Lock(lock) if lock.lock_mode.is_none() && !lock.nowait => Ok(()),
        Statement::CreateRole(role) if crate::privileges::is_redshift_create_role(role) => Ok(()),
        Statement::Lock(_) => Err(
            "ERROR: syntax error: Redshift's LOCK takes table names only (no lock mode, no NOWAIT)"
                .to_owned(),
        ),
        other => {
            let text = other.to_string();
            let words: Vec<&str> = text.split_whitespace().take(2).collect();
            Err(format!(
                "ERROR: {} is not supported by Amazon Redshift (or not shown to be by the local stand-in)",
                words.join(" ")
            ))
        }
    }
}

fn insert_clauses(insert: &Insert) -> Result<(), String> {
    if insert.on.is_some() {
        return Err("ERROR: ON CONFLICT is not supported by Amazon Redshift: use MERGE, or DELETE then INSERT".to_owned());
    }
    if insert.returning.is_some() {
        return Err(refused("RETURNING"));
    }
    Ok(())
}

/// Redshift's reserved words (Database Developer Guide, "Reserved words"): usable as names only
/// when quoted.
const RESERVED: [&str; 159] = [
    "AES128",
    "AES256",
    "ALL",
    "ALLOWOVERWRITE",
    "ANALYSE",
    "ANALYZE",
    "AND",
    "ANY",
    "ARRAY",
    "AS",
    "ASC",
    "AUTHORIZATION",
    "AZ64",
    "BACKUP",
    "BETWEEN",
    "BINARY",
    "BLANKSASNULL",
    "BOTH",
    "BYTEDICT",
    "BZIP2",
    "CASE",
    "CAST",
    "CHECK",
    "COLLATE",
    "COLUMN",
    "CONNECT",
    "CONSTRAINT",
    "CREATE",
    "CREDENTIALS",
    "CROSS",
    "CURRENT_DATE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "CURRENT_USER",
    "CURRENT_USER_ID",
    "DEFAULT",
    "DEFERRABLE",
    "DEFLATE",
    "DEFRAG",
    "DELTA",
    "DELTA32K",
    "DESC",
    "DISABLE",
    "DISTINCT",
    "DO",
    "ELSE",
    "EMPTYASNULL",
    "ENABLE",
    "ENCODE",
    "ENCRYPT",
    "ENCRYPTION",
    "END",
    "EXCEPT",
    "EXPLICIT",
    "FALSE",
    "FOR",
    "FOREIGN",
    "FREEZE",
    "FROM",
    "FULL",
    "GLOBALDICT256",
    "GLOBALDICT64K",
    "GRANT",
    "GROUP",
    "GZIP",
    "HAVING",
    "IDENTITY",
    "IGNORE",
    "ILIKE",
    "IN",
    "INITIALLY",
    "INNER",
    "INTERSECT",
    "INTERVAL",
    "INTO",
    "IS",
    "ISNULL",
    "JOIN",
    "LANGUAGE",
    "LEADING",
    "LEFT",
    "LIKE",
    "LIMIT",
    "LOCALTIME",
    "LOCALTIMESTAMP",
    "LUN",
    "LUNS",
    "LZO",
    "LZOP",
    "MINUS",
    "MOSTLY16",
    "MOSTLY32",
    "MOSTLY8",
    "NATURAL",
    "NEW",
    "NOT",
    "NOTNULL",
    "NULL",
    "NULLS",
    "OFF",
    "OFFLINE",
    "OFFSET",
    "OID",
    "OLD",
    "ON",
    "ONLY",
    "OPEN",
    "OR",
    "ORDER",
    "OUTER",
    "OVERLAPS",
    "PARALLEL",
    "PARTITION",
    "PERCENT",
    "PERMISSIONS",
    "PIVOT",
    "PLACING",
    "PRIMARY",
    "RAW",
    "READRATIO",
    "RECOVER",
    "REFERENCES",
    "REJECTLOG",
    "RESORT",
    "RESPECT",
    "RESTORE",
    "RIGHT",
    "SELECT",
    "SESSION_USER",
    "SIMILAR",
    "SNAPSHOT",
    "SOME",
    "SYSDATE",
    "SYSTEM",
    "START",
    "TABLE",
    "TAG",
    "TDES",
    "TEXT255",
    "TEXT32K",
    "THEN",
    "TIMESTAMP",
    "TO",
    "TOP",
    "TRAILING",
    "TRUE",
    "TRUNCATECOLUMNS",
    "UNION",
    "UNIQUE",
    "UNNEST",
    "UNPIVOT",
    "USER",
    "USING",
    "VERBOSE",
    "WALLET",
    "WHEN",
    "WHERE",
    "WITH",
    "WITHOUT",
];

fn name(ident: &Ident) -> Result<(), String> {
    if ident.quote_style.is_none() && RESERVED.contains(&ident.value.to_uppercase().as_str()) {
        return Err(format!(
            "ERROR: syntax error at or near \"{}\": it is a reserved word in Amazon Redshift (quote it to use it as a name)",
            ident.value
        ));
    }
    Ok(())
}

fn names(object: &ObjectName) -> Result<(), String> {
    for part in &object.0 {
        if let Some(ident) = part.as_ident() {
            name(ident)?;
        }
    }
    Ok(())
}

/// Whether Redshift has the type: as a column's type, or (`in_column` false) in a cast, where
/// INTERVAL is allowed too.
fn data_type(data_type: &DataType, in_column: bool) -> Result<(), String> {
    let allowed = match data_type {
        DataType::SmallInt(_)
        | DataType::Int2(_)
        | DataType::Integer(_)
        | DataType::Int(_)
        | DataType::Int4(_)
        | DataType::BigInt(_)
        | DataType::Int8(_)
        | DataType::Decimal(_)
        | DataType::Numeric(_)
        | DataType::Dec(_)
        | DataType::Real
        | DataType::Float4
        | DataType::Float8
        | DataType::Float(_)
        | DataType::Double(_)
        | DataType::DoublePrecision
        | DataType::Bool
        | DataType::Boolean
        | DataType::Char(_)
        | DataType::Character(_)
        | DataType::Varchar(_)
        | DataType::CharacterVarying(_)
        | DataType::CharVarying(_)
        | DataType::Nvarchar(_)
        | DataType::Text
        | DataType::Date
        | DataType::Time(..)
        | DataType::Timestamp(..) => true,
        DataType::Interval { .. } => !in_column,
        DataType::Custom(name, _) => {
            let name = name.to_string().to_lowercase();
            [
                "super",
                "varbyte",
                "varbinary",
                "geometry",
                "geography",
                "hllsketch",
                "bpchar",
                "timestamptz",
                "timetz",
                "nchar",
                "float",
            ]
            .contains(&name.as_str())
        }
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(format!(
            "ERROR: data type {data_type} is not supported by Amazon Redshift"
        ))
    }
}

/// Reserved words that are values in an expression, not names.
const NILADIC: [&str; 10] = [
    "CURRENT_DATE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "CURRENT_USER",
    "CURRENT_USER_ID",
    "LOCALTIME",
    "LOCALTIMESTAMP",
    "SESSION_USER",
    "SYSDATE",
    "USER",
];

/// PostgreSQL functions the "Unsupported PostgreSQL functions" page lists.
const UNSUPPORTED_FUNCTIONS: [&str; 30] = [
    "generate_series",
    "generate_subscripts",
    "string_agg",
    "array_agg",
    "every",
    "xml_agg",
    "corr",
    "covar_pop",
    "covar_samp",
    "regr_avgx",
    "regr_avgy",
    "regr_count",
    "regr_intercept",
    "regr_r2",
    "regr_slope",
    "regr_sxx",
    "regr_sxy",
    "regr_syy",
    "clock_timestamp",
    "justify_days",
    "justify_hours",
    "justify_interval",
    "pg_sleep",
    "transaction_timestamp",
    "div",
    "setseed",
    "width_bucket",
    "overlay",
    "regexp_matches",
    "regexp_split_to_array",
];

// -- PostgreSQL's server file, large-object and administration functions, which Redshift does
// not have --------------------------------------------------------------------------------------
//
// Not on the "Unsupported PostgreSQL functions" page by name but by kind ("Generic file access
// functions", "Backup control functions", "Recovery control functions", "Server signaling
// functions", ...), or not PostgreSQL core at all (large objects, adminpack, dblink). Redshift's
// "System administration functions" are its own and stay allowed: CHANGE_QUERY_PRIORITY,
// CHANGE_SESSION_PRIORITY, CHANGE_USER_PRIORITY, CURRENT_SETTING, PG_CANCEL_BACKEND,
// PG_TERMINATE_BACKEND, REBOOT_CLUSTER, SET_CONFIG. The stand-in's database user is a superuser,
// so these are refused here, on the syntax tree, before PostgreSQL could run them.

/// PostgreSQL's server file, large-object and administration functions, which Redshift does not
/// have, by name; and the functions that run SQL given as text, which would run it past this check.
const SERVER_FUNCTIONS: [&str; 44] = [
    // Generic file access (and adminpack's).
    "pg_read_file",
    "pg_read_binary_file",
    "pg_stat_file",
    "pg_ls_dir",
    "pg_file_write",
    "pg_file_rename",
    "pg_file_unlink",
    "pg_file_sync",
    "pg_logdir_ls",
    // Large objects (the lo_ family is refused by prefix below).
    "loread",
    "lowrite",
    // Configuration, logging, signaling, backup and recovery control.
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_promote",
    "pg_signal_backend",
    "pg_log_backend_memory_contexts",
    "pg_backup_start",
    "pg_backup_stop",
    "pg_start_backup",
    "pg_stop_backup",
    "pg_create_restore_point",
    "pg_switch_wal",
    "pg_wal_replay_pause",
    "pg_wal_replay_resume",
    "pg_import_system_collations",
    "pg_create_physical_replication_slot",
    "pg_create_logical_replication_slot",
    "pg_drop_replication_slot",
    "pg_copy_physical_replication_slot",
    "pg_copy_logical_replication_slot",
    "pg_replication_slot_advance",
    // SQL given as text, run by the server.
    "query_to_xml",
    "query_to_xmlschema",
    "query_to_xml_and_xmlschema",
    "cursor_to_xml",
    "cursor_to_xmlschema",
    "table_to_xml",
    "table_to_xmlschema",
    "table_to_xml_and_xmlschema",
    "ts_stat",
    "ts_rewrite",
    "database_to_xml",
    "schema_to_xml",
    "xpath_table",
];

/// Families of [`SERVER_FUNCTIONS`], by the start of their names: `pg_ls_dir`, `pg_ls_logdir`,
/// `pg_ls_waldir`, `pg_ls_tmpdir`, ...; `lo_import`, `lo_export`, `lo_get`, `lo_open`, ...;
/// `pg_read_*`, `pg_file_*`; `dblink`, `dblink_exec`, ...; logical decoding and replication
/// origins; `database_to_xml*` and `schema_to_xml*`.
const SERVER_FUNCTION_PREFIXES: [&str; 9] = [
    "pg_ls_",
    "lo_",
    "pg_read_",
    "pg_file_",
    "dblink",
    "pg_logical_",
    "pg_replication_origin_",
    "database_to_xml",
    "schema_to_xml",
];

/// Whether `name` (lower case, unqualified) is one of PostgreSQL's server file, large-object and
/// administration functions that Redshift does not have ([`SERVER_FUNCTIONS`]).
fn is_server_function(name: &str) -> bool {
    SERVER_FUNCTIONS.contains(&name)
        || SERVER_FUNCTION_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// A function's own name, lower case, without its schema or quotes: `pg_catalog."PG_READ_FILE"`
/// is `pg_read_file` (over-refusing a quoted name in another case is the safe side).
fn function_name(name: &ObjectName) -> String {
    name.0
        .last()
        .map(|part| match part.as_ident() {
            Some(ident) => ident.value.to_lowercase(),
            None => part.to_string().to_lowercase(),
        })
        .unwrap_or_default()
}

/// The text for a COPY that is not `COPY table FROM 's3://...'`: `construct` names it
/// (`COPY ... TO`, `COPY ... FROM PROGRAM`, ...).
pub fn copy_refused(construct: &str) -> String {
    format!(
        "ERROR: {construct} is not supported by Amazon Redshift: COPY loads a table from \
         Amazon S3 ('s3://bucket/prefix'); UNLOAD writes to it"
    )
}

/// Refuses a COPY source that is not an S3 location: a path or a `file://` URL on this machine
/// (Redshift's COPY reads no server files), or any other scheme the stand-in does not serve
/// (Redshift's DynamoDB, EMR and SSH sources among them).
pub fn copy_source(from: &str) -> Result<(), String> {
    if from.starts_with("s3://") {
        return Ok(());
    }
    Err(format!(
        "ERROR: COPY from '{from}' is not supported: Amazon Redshift reads no files of the \
         server, and the local stand-in loads from Amazon S3 ('s3://bucket/prefix') only"
    ))
}

/// Walks queries and expressions for the first construct Redshift refuses.
#[derive(Default)]
struct Finder {
    problem: Option<String>,
    /// A SYS monitoring view the statement reads (unqualified, or in pg_catalog).
    system_view: Option<String>,
    /// The other relations it names, lower-cased, but for the catalog's and the STL / STV / SVL
    /// / SVV / SVCS system tables and views: tables and views of the database, or WITH queries.
    relations: Vec<String>,
    /// The names its WITH clauses define.
    with_names: Vec<String>,
}

impl Finder {
    fn found(&mut self, problem: Result<(), String>) -> ControlFlow<()> {
        match problem {
            Ok(()) => ControlFlow::Continue(()),
            Err(text) => {
                self.problem = Some(text);
                ControlFlow::Break(())
            }
        }
    }
}

impl Visitor for Finder {
    type Break = ();

    fn pre_visit_query(&mut self, query: &sqlparser::ast::Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            self.with_names.extend(
                with.cte_tables
                    .iter()
                    .map(|cte| cte.alias.name.value.to_lowercase()),
            );
        }
        let mut problem = Ok(());
        if let SetExpr::Select(select) = query.body.as_ref() {
            if matches!(select.distinct, Some(Distinct::On(_))) {
                problem = Err(refused("DISTINCT ON clauses"));
            }
            for item in &select.projection {
                if let SelectItem::ExprWithAlias { alias, .. } = item {
                    problem = problem.and_then(|()| name(alias));
                }
            }
        }
        self.found(problem)
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        let problem = match factor {
            TableFactor::Derived { lateral: true, .. }
            | TableFactor::Function { lateral: true, .. } => Err(refused("LATERAL subqueries")),
            // "Table functions" are among the unsupported PostgreSQL features.
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            } => Err(format!(
                "ERROR: table function {} is not supported by Amazon Redshift",
                name.to_string().to_lowercase()
            )),
            TableFactor::Function { .. } | TableFactor::TableFunction { .. } => {
                Err(refused("table functions"))
            }
            TableFactor::Table {
                alias: Some(alias), ..
            }
            | TableFactor::Derived {
                alias: Some(alias), ..
            } => name(&alias.name),
            _ => Ok(()),
        };
        self.found(problem)
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        let parts: Vec<String> = relation
            .0
            .iter()
            .map(|part| match part.as_ident() {
                Some(ident) => ident.value.to_lowercase(),
                None => part.to_string().to_lowercase(),
            })
            .collect();
        let (schema, last) = match parts.as_slice() {
            [.., schema, last] => (Some(schema.as_str()), last.as_str()),
            [last] => (None, last.as_str()),
            [] => (None, ""),
        };
        let system_schema = matches!(schema, None | Some("pg_catalog"));
        if system_schema && last.starts_with("sys_") {
            self.system_view = Some(last.to_owned());
        } else if !(schema == Some("information_schema")
            || system_schema
                && ["pg_", "stl_", "stv_", "svl_", "svv_", "svcs_"]
                    .iter()
                    .any(|prefix| last.starts_with(prefix)))
        {
            self.relations.push(last.to_owned());
        }
        self.found(names(relation))
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        let problem = match expr {
            // CURRENT_USER, SYSDATE and the like are reserved words that stand for a value.
            Expr::Identifier(ident) if NILADIC.contains(&ident.value.to_uppercase().as_str()) => {
                Ok(())
            }
            Expr::Identifier(ident) => name(ident),
            Expr::CompoundIdentifier(parts) => parts.iter().try_for_each(name),
            Expr::Array(_) => Err(refused("array constructors")),
            Expr::CompoundFieldAccess { .. } => Err(refused("subscripted expressions")),
            Expr::IsDistinctFrom(..) | Expr::IsNotDistinctFrom(..) => {
                Err(refused("IS [NOT] DISTINCT FROM comparisons"))
            }
            Expr::Cast { data_type: ty, .. } => data_type(ty, false),
            Expr::Function(function) => {
                let called = function.name.to_string().to_lowercase();
                let own_name = function_name(&function.name);
                if function.filter.is_some() {
                    Err(refused("aggregate FILTER clauses"))
                } else if is_server_function(&own_name) {
                    Err(format!(
                        "ERROR: function {own_name} is not supported by Amazon Redshift \
                         (PostgreSQL's server file, large-object and administration functions \
                         are not Redshift's)"
                    ))
                } else if UNSUPPORTED_FUNCTIONS.contains(&called.as_str()) {
                    Err(format!(
                        "ERROR: function {called} is not supported by Amazon Redshift"
                    ))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        };
        self.found(problem)
    }
}

#[cfg(test)]
mod tests {
    /// Through the stand-in's translation, as a statement runs: what the Redshift dialect cannot
    /// parse is already a syntax error there.
    fn checked(sql: &str) -> Result<(), String> {
        crate::dialect::translate(sql, &std::collections::HashMap::new())
            .map(|_| ())
            .map_err(|err| err.to_string())
    }

    #[test]
    fn what_the_pipeline_runs_passes() {
        for sql in [
            "SELECT e.user_id, ROW_NUMBER() OVER (PARTITION BY e.user_id ORDER BY ts DESC) AS recency FROM staging_events e WHERE e.user_id ~ '^[0-9]{1,9}$'",
            "INSERT INTO songplays (songplay_id) SELECT MD5(CAST(session_id AS VARCHAR) || ':' || user_id) FROM staging_events",
            "DELETE FROM users USING users_latest l WHERE users.user_id = l.user_id",
            "CREATE TABLE IF NOT EXISTS time (start_time TIMESTAMP NOT NULL, hour SMALLINT NOT NULL, PRIMARY KEY (start_time)) DISTSTYLE ALL SORTKEY (start_time)",
            "CREATE TABLE IF NOT EXISTS songs (song_id VARCHAR(32) NOT NULL, duration DOUBLE PRECISION) DISTSTYLE KEY DISTKEY (song_id) SORTKEY (song_id)",
            "CREATE TEMP TABLE events_load (LIKE staging_events)",
            "LOCK staging_files, staging_events",
            "SELECT TIMESTAMP 'epoch' + ts * INTERVAL '1 millisecond' FROM e",
            "DROP TABLE IF EXISTS songplays, users CASCADE",
            "SELECT TRIM(file_name) AS file_name FROM sys_load_error_detail WHERE start_time >= CAST('2026-11-22 18:00:00' AS TIMESTAMP)",
            "SELECT CURRENT_USER, SYSDATE",
            // A WITH query over a system view is still the view read alone.
            "WITH e AS (SELECT file_name FROM sys_load_error_detail) SELECT COUNT(*) FROM e",
            "SELECT COUNT(*) FROM pg_catalog.sys_load_error_detail",
        ] {
            assert_eq!(checked(sql), Ok(()), "{sql}");
        }
    }

    #[test]
    fn what_redshift_documents_as_unsupported_fails_naming_it() {
        let cases = [
            (
                "INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO NOTHING",
                "ON CONFLICT",
            ),
            ("INSERT INTO t (a) VALUES (1) RETURNING a", "RETURNING"),
            ("DELETE FROM t WHERE a = 1 RETURNING a", "RETURNING"),
            ("SELECT DISTINCT ON (a) a, b FROM t", "DISTINCT ON"),
            ("SELECT * FROM t, LATERAL (SELECT t.a) x", "LATERAL"),
            // The Redshift dialect does not parse an aggregate's FILTER at all.
            (
                "SELECT COUNT(*) FILTER (WHERE a > 1) FROM t",
                "syntax error",
            ),
            ("SELECT ARRAY[1, 2]", "array"),
            ("CREATE TABLE t (a INT[])", "data type"),
            ("CREATE TABLE t (a JSONB)", "data type"),
            ("CREATE TABLE t (a JSON)", "data type"),
            ("CREATE TABLE t (a SERIAL)", "data type"),
            ("CREATE TABLE t (a UUID)", "data type"),
            ("CREATE TABLE t (a INTERVAL)", "data type"),
            ("CREATE TABLE t (a INT CHECK (a > 0))", "CHECK"),
            ("CREATE TABLE t (a INT, CHECK (a > 0))", "CHECK"),
            (
                "CREATE TABLE t (a INT) DISTSTYLE ALL DISTKEY (a)",
                "DISTKEY",
            ),
            ("CREATE INDEX i ON t (a)", "CREATE INDEX"),
            ("CREATE SEQUENCE s", "CREATE SEQUENCE"),
            ("CREATE TABLE tag (a INT)", "reserved word"),
            ("CREATE TABLE t (open INT)", "reserved word"),
            ("SELECT a AS snapshot FROM t", "reserved word"),
            ("SELECT * FROM generate_series(1, 3)", "generate_series"),
            ("SELECT a IS DISTINCT FROM b FROM t", "DISTINCT FROM"),
            ("LOCK t IN SHARE MODE", "LOCK"),
            (
                "SELECT s.object_key FROM staging_files s JOIN sys_load_error_detail e \
                 ON TRIM(e.file_name) = s.object_key",
                "sys_load_error_detail",
            ),
            (
                "SELECT object_key FROM staging_files WHERE object_key IN \
                 (SELECT TRIM(file_name) FROM sys_load_error_detail)",
                "sys_load_error_detail",
            ),
            (
                "INSERT INTO load_errors SELECT file_name FROM sys_load_error_detail",
                "sys_load_error_detail",
            ),
        ];
        for (sql, named) in cases {
            let error = checked(sql).expect_err(sql);
            assert!(
                error.starts_with("ERROR: ") && error.contains(named),
                "{sql}: {error}"
            );
        }
        // Quoted, a reserved word is a name like any other.
        assert_eq!(checked("CREATE TABLE \"tag\" (\"open\" INT)"), Ok(()));
    }

    #[test]
    fn postgres_server_file_large_object_and_admin_functions_fail_naming_them() {
        let cases = [
            ("SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
            (
                "SELECT pg_catalog.pg_read_binary_file('/etc/passwd')",
                "pg_read_binary_file",
            ),
            ("SELECT \"PG_READ_FILE\"('/etc/passwd')", "pg_read_file"),
            ("SELECT pg_ls_dir('.')", "pg_ls_dir"),
            ("SELECT * FROM pg_ls_dir('.')", "pg_ls_dir"),
            ("SELECT pg_ls_waldir()", "pg_ls_waldir"),
            ("SELECT pg_stat_file('/etc/passwd')", "pg_stat_file"),
            ("SELECT lo_import('/etc/passwd')", "lo_import"),
            ("SELECT lo_export(16384, '/tmp/out')", "lo_export"),
            ("SELECT lo_get(16384)", "lo_get"),
            ("SELECT loread(0, 10)", "loread"),
            (
                "SELECT pg_file_write('/tmp/out', 'x', false)",
                "pg_file_write",
            ),
            ("SELECT dblink('host=h', 'SELECT 1')", "dblink"),
            ("SELECT dblink_exec('host=h', 'SELECT 1')", "dblink_exec"),
            ("SELECT pg_reload_conf()", "pg_reload_conf"),
            ("SELECT pg_rotate_logfile()", "pg_rotate_logfile"),
            ("SELECT pg_promote()", "pg_promote"),
            // SQL given as text would run unchecked.
            (
                "SELECT query_to_xml('SELECT pg_read_file(''/etc/passwd'')', true, true, '')",
                "query_to_xml",
            ),
            // Anywhere an expression goes.
            (
                "CREATE TABLE f (a VARCHAR(256) DEFAULT pg_read_file('/etc/passwd'))",
                "pg_read_file",
            ),
            (
                "INSERT INTO t (a) SELECT pg_read_file('/etc/passwd')",
                "pg_read_file",
            ),
            (
                "SELECT a FROM t WHERE a = (SELECT lo_import('/etc/passwd'))",
                "lo_import",
            ),
        ];
        for (sql, named) in cases {
            let error = checked(sql).expect_err(sql);
            assert!(
                error.starts_with("ERROR: ")
                    && error.contains(named)
                    && error.contains("not supported by Amazon Redshift"),
                "{sql}: {error}"
            );
        }
        // Redshift's own system administration functions ("System administration functions").
        for sql in [
            "SELECT current_setting('datestyle')",
            "SELECT set_config('search_path', 'public', false)",
            "SELECT pg_cancel_backend(1)",
            "SELECT pg_terminate_backend(1)",
        ] {
            assert_eq!(checked(sql), Ok(()), "{sql}");
        }
    }

    #[test]
    fn copy_to_or_from_anything_but_s3_fails_naming_it() {
        let cases = [
            (
                "COPY t FROM PROGRAM 'id' JSON 'auto'",
                "COPY ... FROM PROGRAM",
            ),
            ("COPY t FROM STDIN", "COPY ... FROM STDIN"),
            ("COPY t TO '/tmp/t.out'", "COPY ... TO"),
            ("COPY t TO PROGRAM 'sh -c id'", "COPY ... TO"),
            ("COPY (SELECT 1) TO '/tmp/t.out'", "COPY (query)"),
            ("COPY t FROM '/etc/passwd' JSON 'auto'", "'/etc/passwd'"),
            (
                "COPY t FROM 'file:///etc/passwd' JSON 'auto'",
                "'file:///etc/passwd'",
            ),
        ];
        for (sql, named) in cases {
            let error = crate::copy::parse(sql).expect_err(sql);
            assert!(
                error.starts_with("ERROR: ")
                    && error.contains(named)
                    && error.contains("not supported"),
                "{sql}: {error}"
            );
        }
        assert!(crate::copy::parse("COPY t FROM 's3://b/k' JSON 'auto'").is_ok());
    }
}
