//! `COPY table FROM 's3://...' FORMAT AS JSON ...` as Redshift documents it, reading S3 (the
//! buckets this stand-in serves, in its own process, or an S3 endpoint elsewhere) and loading
//! PostgreSQL with `COPY ... FROM STDIN`. Its parts, each in its file:
//! - `command.rs`: the statement and its options (MAXERROR, REGION, compression, ...);
//! - `source.rs`: the objects it reads (a prefix or a manifest), where it reads them, read and
//!   decompressed;
//! - `json.rs`: JSON records and JSONPaths to rows, by Redshift's conversion rules;
//! - `errors.rs`: the records it rejects, written to the load-error views.
//!
//! This file runs them in order: the rejects reach MAXERROR and the load fails with Redshift's
//! "Load into table '<table>' failed. Check '<view>' system table for details.", or the rows go to
//! PostgreSQL.

mod command;
mod errors;
mod json;
mod source;

pub use command::{Compression, CopyCommand, JsonMapping, MAX_MAXERROR, parse};
pub use errors::{LOAD_ERROR_VIEWS, LoadError, record_errors};
pub use json::CopyReport;
pub use source::{Reader, S3Reads};

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use source::Need;
use tokio_postgres::Client;

/// Runs a COPY on `client` (inside the caller's transaction), reading S3 through `s3` (signed for
/// the COPY's region). `error_view` is the system view a failed load points to: STL_LOAD_ERRORS
/// on a cluster, SYS_LOAD_ERROR_DETAIL on a workgroup, which has no STL views. The report's
/// errors must be recorded by the caller whether this succeeds or fails; on failure they come
/// with the error.
pub async fn run(
    client: &Client,
    s3: &Reader,
    command: &CopyCommand,
    error_view: &str,
) -> Result<CopyReport, (String, Vec<LoadError>)> {
    let fail = |message: String| (message, Vec::new());
    let columns = json::table_columns(client, command).await.map_err(fail)?;
    let objects = source::source_objects(s3, command).await.map_err(fail)?;
    let paths = match &command.mapping {
        JsonMapping::Paths(uri) => {
            let text = String::from_utf8(s3.get(uri).await.map_err(fail)?)
                .map_err(|_| fail(format!("ERROR: JSONPaths file {uri} is not UTF-8")))?;
            let paths = json::parse_jsonpaths(&text).map_err(fail)?;
            if paths.len() != columns.len() {
                return Err(fail(format!(
                    "ERROR: Number of jsonpaths and the number of columns should match. JSONPath size: {}, Number of columns in table or column list: {}",
                    paths.len(),
                    columns.len()
                )));
            }
            Some(paths)
        }
        JsonMapping::Auto { .. } => None,
    };
    let mut report = CopyReport::default();
    let mut buffer = BytesMut::new();
    let started = std::time::Instant::now();
    let mut bytes_read = 0;
    // Read several at a time, in order, so rows and load errors come out the same on every run.
    let object_count = objects.len();
    let mut objects_found = 0;
    let mut fetches = s3.fetch_all(objects);
    while let Some((source, fetched)) = fetches.next().await {
        let uri = source.uri.as_str();
        let mut raw = match (fetched.map_err(fail)?, source.need) {
            (Some(raw), _) => raw,
            (None, Need::Optional) => continue,
            (None, Need::Mandatory) => {
                return Err(fail(format!(
                    "ERROR: Manifest file entry {uri} is mandatory but was not found (code 1212)"
                )));
            }
            (None, Need::Listed) => {
                return Err(fail(format!(
                    "ERROR: S3 object {uri} could not be read: it is gone (NoSuchKey)"
                )));
            }
        };
        bytes_read += raw.len();
        objects_found += 1;
        raw = source::decompressed(command.compression, uri, raw).map_err(fail)?;
        json::load_object(
            command,
            &columns,
            paths.as_deref(),
            uri,
            &raw,
            &mut buffer,
            &mut report,
        )
        .map_err(|error| (error, std::mem::take(&mut report.errors)))?;
    }
    if objects_found == 0 {
        return Err(fail(format!(
            "ERROR: COPY found no files to load: none of the entries of manifest {} exists",
            command.from
        )));
    }
    tracing::info!(
        table = %command.table,
        objects = object_count,
        bytes = bytes_read,
        rejected = report.errors.len(),
        seconds = started.elapsed().as_secs_f64(),
        "COPY read its objects"
    );
    let rejected = report.errors.len() as u64;
    if rejected > 0 && rejected >= command.max_errors.max(1) {
        return Err((
            format!(
                "ERROR: Load into table '{}' failed. Check '{error_view}' system table for details.",
                command.table
            ),
            report.errors,
        ));
    }
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let errors = std::mem::take(&mut report.errors);
    let rows = copy_from_stdin(client, &command.table, &names, buffer.freeze())
        .await
        .map_err(|err| (err, errors.clone()))?;
    report.rows_loaded = rows as i64;
    report.errors = errors;
    Ok(report)
}

/// Loads `rows` (COPY text format) into `columns` of `table` with `COPY ... FROM STDIN`; returns
/// the rows loaded.
pub async fn copy_from_stdin(
    client: &Client,
    table: &str,
    columns: &[&str],
    rows: Bytes,
) -> Result<u64, String> {
    let column_list = columns
        .iter()
        .map(|name| format!("\"{}\"", name.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(", ");
    let sink = client
        .copy_in(&format!("COPY {table} ({column_list}) FROM STDIN"))
        .await
        .map_err(|err| crate::backend::error_text(&err))?;
    futures_util::pin_mut!(sink);
    let sent = async {
        sink.send(rows).await?;
        sink.as_mut().finish().await
    }
    .await;
    sent.map_err(|err| crate::backend::error_text(&err))
}

/// What a COPY of `objects` (each a URI and its bytes, already read) hands PostgreSQL: its rows
/// in COPY text format, by the conversion rules above, and its rejects. [`run`] is this between
/// reading S3 and [`copy_from_stdin`]; the benchmark's floor loads these rows directly.
/// `jsonpaths` is the JSONPaths file's text when the command maps by JSONPaths.
pub async fn convert_objects(
    client: &Client,
    command: &CopyCommand,
    jsonpaths: Option<&str>,
    objects: &[(String, Vec<u8>)],
) -> Result<(Bytes, Vec<String>, Vec<LoadError>), String> {
    let columns = json::table_columns(client, command).await?;
    let paths = jsonpaths.map(json::parse_jsonpaths).transpose()?;
    let mut report = CopyReport::default();
    let mut buffer = BytesMut::new();
    for (uri, raw) in objects {
        json::load_object(
            command,
            &columns,
            paths.as_deref(),
            uri,
            raw,
            &mut buffer,
            &mut report,
        )?;
    }
    let names = columns.into_iter().map(|c| c.name).collect();
    Ok((buffer.freeze(), names, report.errors))
}
