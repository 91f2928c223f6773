//! `COPY table FROM 's3://...' FORMAT AS JSON ...` as Redshift documents it, reading S3 through
//! `aws-sdk-s3` and loading PostgreSQL with `COPY ... FROM STDIN`.
//!
//! Conversion rules (Redshift's where documented; strict where the documentation is silent):
//! - text columns take JSON strings as they are and numbers and booleans as their JSON text; a
//!   value longer than the column's length **in UTF-8 bytes** is rejected (1204) unless
//!   TRUNCATECOLUMNS, which cuts it to the length on a character boundary; EMPTYASNULL loads `""`
//!   as NULL, BLANKSASNULL loads whitespace-only strings as NULL; objects and arrays are rejected.
//! - integer columns take JSON integers and strings of digits (optional sign and surrounding
//!   spaces); a fraction, even `.0`, is rejected (1207), as is a value out of range (1222).
//!   An empty or blank string is NULL for non-text columns, as the documentation says.
//! - float and decimal columns take numbers and numeric strings (1208 / 1209 otherwise);
//!   booleans take true/false and the strings t/f/true/false/y/n/yes/no/1/0 (1210).
//! - timestamps follow TIMEFORMAT: `epochsecs`, `epochmillisecs`, `auto` or the default
//!   `YYYY-MM-DD HH:MI:SS` (1206); dates follow DATEFORMAT (`auto` or `YYYY-MM-DD`, 1205).
//! - a missing key or JSON null is NULL; NULL in a NOT NULL column is rejected (1213).
//! - a line that is not valid JSON is rejected (1216), and loading goes on at the next line.
//! - a record holding bytes that are not UTF-8 is rejected with 1220 and the bad bytes in hex,
//!   as Redshift does without ACCEPTINVCHARS (the documentation's VARCHAR error numbers: 1 for a
//!   sequence longer than four bytes, 2 for an incomplete one, 3 for a byte that cannot start
//!   one, 4 for a continuation byte out of range).
//! - a JSON record larger than 4 MB (Redshift's documented maximum for one JSON object) fails the
//!   whole COPY: "If the maximum size of a single JSON object or array is exceeded ... the COPY
//!   command fails". It is not a rejected record and records no load error.
//!
//! Every rejected record is kept as a [`LoadError`] (file, line, column, reason) and written to
//! the load-error views after the transaction ends, whether it committed or not, as Redshift's
//! system tables are. "If the load returns the error_count number of errors or greater, the load
//! fails" (MAXERROR; its default 0 and 1 both fail at the first reject), and MAXERROR is at most
//! 100000: a larger one is refused (the documentation states the limit and not what happens above
//! it; refusing is the strict reading).
//!
//! Regions: "By default, COPY assumes that the data is located in the same Region as the Amazon
//! Redshift cluster"; with REGION, "all resources, including a manifest file ..., must be located
//! in the specified Region". COPY reads S3 signed for that region, so a bucket elsewhere answers
//! 301 PermanentRedirect ([`crate::s3`]) and the COPY fails with Redshift's S3ServiceException.
//! A manifest that finds no file fails the COPY: "Regardless of any mandatory settings, COPY will
//! terminate if no files are found".

use crate::dialect::LocalRedshift;
use aws_sdk_s3::Client as S3Client;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;
use std::io::Read;
use tokio_postgres::Client;

/// S3 objects a COPY reads at once.
const OBJECTS_IN_FLIGHT: usize = 64;

/// The largest JSON record Redshift loads: "The maximum size of a JSON object in Amazon Redshift
/// is 4 MB, which applies before any shredding or parsing."
const MAX_JSON_RECORD_BYTES: usize = 4 * 1024 * 1024;

/// MAXERROR's documented limit.
pub const MAX_MAXERROR: u64 = 100_000;

/// How JSON fields map to columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonMapping {
    /// Keys equal column names (`'auto'`), or equal ignoring case (`'auto ignorecase'`).
    Auto { ignore_case: bool },
    /// A JSONPaths file: its n-th path fills the n-th column.
    Paths(String),
}

/// A parsed COPY statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyCommand {
    pub table: String,
    pub columns: Option<Vec<String>>,
    pub from: String,
    pub manifest: bool,
    pub mapping: JsonMapping,
    pub max_errors: u64,
    pub truncate_columns: bool,
    pub blanks_as_null: bool,
    pub empty_as_null: bool,
    pub gzip: bool,
    pub time_format: Option<String>,
    pub date_format: Option<String>,
    /// REGION: where the data, the manifest and the JSONPaths file are (None: the warehouse's).
    pub region: Option<String>,
    /// IAM_ROLE 'arn' (None: `IAM_ROLE default`, or CREDENTIALS).
    pub iam_role: Option<String>,
}

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

/// Parses `sql` if it is a COPY; `Ok(None)` for any other statement.
pub fn parse(sql: &str) -> Result<Option<CopyCommand>, String> {
    let dialect = LocalRedshift::default();
    let syntax = |err: sqlparser::parser::ParserError| format!("ERROR: syntax error: {err}");
    let mut parser = Parser::new(&dialect).try_with_sql(sql).map_err(syntax)?;
    if !parser.parse_keyword(Keyword::COPY) {
        return Ok(None);
    }
    let table = parser.parse_object_name(false).map_err(syntax)?.to_string();
    let columns = if parser.consume_token(&Token::LParen) {
        let names = parser
            .parse_comma_separated(|p| p.parse_identifier())
            .map_err(syntax)?;
        parser.expect_token(&Token::RParen).map_err(syntax)?;
        Some(names.into_iter().map(|ident| ident.value).collect())
    } else {
        None
    };
    parser.expect_keyword(Keyword::FROM).map_err(syntax)?;
    let from = parser.parse_literal_string().map_err(syntax)?;
    let mut command = CopyCommand {
        table,
        columns,
        from,
        manifest: false,
        mapping: JsonMapping::Auto { ignore_case: false },
        max_errors: 0,
        truncate_columns: false,
        blanks_as_null: false,
        empty_as_null: false,
        gzip: false,
        time_format: None,
        date_format: None,
        region: None,
        iam_role: None,
    };
    let mut format_seen = false;
    loop {
        let token = parser.next_token().token;
        let word = match &token {
            Token::EOF => break,
            Token::SemiColon => {
                if parser.peek_token().token != Token::EOF {
                    return Err("ERROR: expected one statement".into());
                }
                break;
            }
            Token::Word(word) => word.value.to_ascii_uppercase(),
            other => return Err(format!("ERROR: syntax error at or near \"{other}\"")),
        };
        match word.as_str() {
            "WITH" => {}
            "IAM_ROLE" => {
                if !parser.parse_keyword(Keyword::DEFAULT) {
                    command.iam_role = Some(parser.parse_literal_string().map_err(syntax)?);
                }
            }
            "REGION" => {
                skip_as(&mut parser);
                command.region = Some(parser.parse_literal_string().map_err(syntax)?);
            }
            "CREDENTIALS" | "ACCESS_KEY_ID" | "SECRET_ACCESS_KEY" | "SESSION_TOKEN" => {
                skip_as(&mut parser);
                parser.parse_literal_string().map_err(syntax)?;
            }
            "FORMAT" => skip_as(&mut parser),
            "JSON" => {
                skip_as(&mut parser);
                format_seen = true;
                let spec = parser.parse_literal_string().map_err(syntax)?;
                command.mapping = match spec.as_str() {
                    "auto" => JsonMapping::Auto { ignore_case: false },
                    "auto ignorecase" => JsonMapping::Auto { ignore_case: true },
                    path if path.starts_with("s3://") => JsonMapping::Paths(path.to_owned()),
                    other => {
                        return Err(format!(
                            "ERROR: JSON option '{other}' is not supported: use 'auto', 'auto ignorecase' or a JSONPaths file"
                        ));
                    }
                };
            }
            "MANIFEST" => command.manifest = true,
            "MAXERROR" => {
                skip_as(&mut parser);
                command.max_errors = match parser.next_token().token {
                    Token::Number(n, _) => n
                        .parse()
                        .map_err(|_| format!("ERROR: MAXERROR must be a whole number, got {n}"))?,
                    other => {
                        return Err(format!(
                            "ERROR: MAXERROR must be a whole number, got {other}"
                        ));
                    }
                };
                if command.max_errors > MAX_MAXERROR {
                    return Err(format!(
                        "ERROR: MAXERROR {} is above its limit of {MAX_MAXERROR}",
                        command.max_errors
                    ));
                }
            }
            "TRUNCATECOLUMNS" => command.truncate_columns = true,
            "BLANKSASNULL" => command.blanks_as_null = true,
            "EMPTYASNULL" => command.empty_as_null = true,
            "GZIP" => command.gzip = true,
            "TIMEFORMAT" | "DATEFORMAT" => {
                skip_as(&mut parser);
                let format = parser.parse_literal_string().map_err(syntax)?;
                if word == "TIMEFORMAT" {
                    command.time_format = Some(format);
                } else {
                    command.date_format = Some(format);
                }
            }
            "COMPUPDATE" | "STATUPDATE" => {
                // Compression and statistics updates: nothing to do here. The optional setting
                // is ON, OFF, TRUE, FALSE or (COMPUPDATE) PRESET.
                if let Token::Word(setting) = &parser.peek_token().token
                    && ["ON", "OFF", "TRUE", "FALSE", "PRESET"]
                        .contains(&setting.value.to_ascii_uppercase().as_str())
                {
                    parser.next_token();
                }
            }
            "CSV" | "DELIMITER" | "FIXEDWIDTH" | "AVRO" | "PARQUET" | "ORC" | "SHAPEFILE" => {
                return Err(format!(
                    "ERROR: COPY format {word} is not supported by the local stand-in: use FORMAT AS JSON"
                ));
            }
            _ => return Err(format!("ERROR: syntax error at or near \"{token}\"")),
        }
    }
    if !format_seen {
        return Err(
            "ERROR: the local stand-in loads JSON only: add FORMAT AS JSON 'auto' or a JSONPaths file"
                .into(),
        );
    }
    Ok(Some(command))
}

/// Skips the optional `AS` that Redshift allows after most COPY options.
fn skip_as(parser: &mut Parser) {
    let _ = parser.parse_keyword(Keyword::AS);
}

/// What a COPY did.
#[derive(Debug, Default)]
pub struct CopyReport {
    pub rows_loaded: i64,
    pub errors: Vec<LoadError>,
}

/// A target column and how its values are converted.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    type_name: String,
    kind: Kind,
    not_null: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text { max_bytes: Option<usize> },
    Int { min: i64, max: i64 },
    Float,
    Decimal,
    Bool,
    Timestamp,
    Date,
}

/// Runs a COPY on `client` (inside the caller's transaction), reading S3 through `s3` (signed for
/// the COPY's region). `error_view` is the system view a failed load points to: STL_LOAD_ERRORS
/// on a cluster, SYS_LOAD_ERROR_DETAIL on a workgroup, which has no STL views. The report's
/// errors must be recorded by the caller whether this succeeds or fails; on failure they come
/// with the error.
pub async fn run(
    client: &Client,
    s3: &S3Client,
    command: &CopyCommand,
    error_view: &str,
) -> Result<CopyReport, (String, Vec<LoadError>)> {
    let fail = |message: String| (message, Vec::new());
    let columns = table_columns(client, command).await.map_err(fail)?;
    let objects = source_objects(s3, command).await.map_err(fail)?;
    let paths = match &command.mapping {
        JsonMapping::Paths(uri) => {
            let text = String::from_utf8(get_object(s3, uri).await.map_err(fail)?)
                .map_err(|_| fail(format!("ERROR: JSONPaths file {uri} is not UTF-8")))?;
            let paths = parse_jsonpaths(&text).map_err(fail)?;
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
    // Many small objects (one per song) make the round trips the cost: keep several in flight,
    // in order, so rows and load errors come out the same on every run.
    let object_count = objects.len();
    let mut objects_found = 0;
    let mut fetches = futures_util::stream::iter(objects)
        .map(|source: Source| {
            let s3 = s3.clone();
            async move {
                let fetched = fetch_object(&s3, &source.uri).await;
                (source, fetched)
            }
        })
        .buffered(OBJECTS_IN_FLIGHT);
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
        if command.gzip {
            let mut inflated = Vec::new();
            flate2::read::MultiGzDecoder::new(raw.as_slice())
                .read_to_end(&mut inflated)
                .map_err(|err| fail(format!("ERROR: gzip decompression of {uri} failed: {err}")))?;
            raw = inflated;
        }
        load_object(
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
    let columns = table_columns(client, command).await?;
    let paths = jsonpaths.map(parse_jsonpaths).transpose()?;
    let mut report = CopyReport::default();
    let mut buffer = BytesMut::new();
    for (uri, raw) in objects {
        load_object(
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

/// Converts every record of one object into COPY text rows, or load errors; a record over 4 MB
/// fails the whole COPY.
fn load_object(
    command: &CopyCommand,
    columns: &[Column],
    paths: Option<&[Vec<PathStep>]>,
    uri: &str,
    raw: &[u8],
    buffer: &mut BytesMut,
    report: &mut CopyReport,
) -> Result<(), String> {
    // Line numbers advance with the offset, so counting stays linear in the object's size.
    let mut counted_to = 0;
    let mut line = 1_i64;
    let mut line_of = |offset: usize| {
        let offset = offset.min(raw.len());
        line += raw[counted_to..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as i64;
        counted_to = offset;
        line
    };
    let mut offset = 0;
    while offset < raw.len() {
        // Skip whitespace between records.
        while offset < raw.len() && raw[offset].is_ascii_whitespace() {
            offset += 1;
        }
        if offset >= raw.len() {
            break;
        }
        let mut stream = serde_json::Deserializer::from_slice(&raw[offset..]).into_iter::<Value>();
        let start = offset;
        match stream.next() {
            Some(Ok(value)) => {
                offset += stream.byte_offset();
                let line = line_of(start);
                if offset - start > MAX_JSON_RECORD_BYTES {
                    return Err(format!(
                        "ERROR: Load into table '{}' failed. The JSON object at line {line} of {uri} is {} bytes; the maximum size of a single JSON object is 4 MB.",
                        command.table,
                        offset - start
                    ));
                }
                let raw_line = String::from_utf8_lossy(&raw[start..offset]);
                match convert_record(command, columns, paths, &value) {
                    Ok(fields) => write_row(buffer, &fields),
                    Err((column, raw_value, code, reason)) => report.errors.push(LoadError {
                        table: command.table.clone(),
                        file: uri.to_owned(),
                        line,
                        column: column.name.clone(),
                        column_type: column.type_name.clone(),
                        raw_line: truncate_chars(&raw_line, 1024),
                        raw_value: truncate_chars(&raw_value, 1024),
                        code,
                        reason,
                    }),
                }
            }
            Some(Err(err)) => {
                let line = line_of(start);
                let end = raw[start..]
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(raw.len(), |p| start + p);
                let (code, reason) = match invalid_utf8(&raw[start..end]) {
                    Some(reason) => (1220, reason),
                    None => (1216, format!("Invalid JSON: {err}")),
                };
                report.errors.push(LoadError {
                    table: command.table.clone(),
                    file: uri.to_owned(),
                    line,
                    column: String::new(),
                    column_type: String::new(),
                    raw_line: truncate_chars(&String::from_utf8_lossy(&raw[start..end]), 1024),
                    raw_value: String::new(),
                    code,
                    reason,
                });
                offset = end;
            }
            None => break,
        }
    }
    Ok(())
}

/// Redshift's reason for a line with bytes that are not UTF-8, or None when the line is UTF-8.
fn invalid_utf8(line: &[u8]) -> Option<String> {
    let err = std::str::from_utf8(line).err()?;
    let at = err.valid_up_to();
    let bad = &line[at..at + err.error_len().unwrap_or(line.len() - at)];
    let kind = match (err.error_len(), bad[0]) {
        (None, _) => 2,
        (_, 0xF8..=0xFF) => 1,
        (_, 0x80..=0xC1) => 3,
        _ => 4,
    };
    let hex: Vec<String> = bad.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!(
        "String contains invalid or unsupported UTF8 codepoints. Bad UTF8 hex sequence: {} (error {kind})",
        hex.join(" ")
    ))
}

type FieldError<'a> = (&'a Column, String, i32, String);

fn convert_record<'a>(
    command: &CopyCommand,
    columns: &'a [Column],
    paths: Option<&[Vec<PathStep>]>,
    record: &Value,
) -> Result<Vec<Option<String>>, FieldError<'a>> {
    if !record.is_object() && paths.is_none() {
        let column = &columns[0];
        return Err((
            column,
            record.to_string(),
            1216,
            "Invalid JSON: a record must be a JSON object".into(),
        ));
    }
    columns
        .iter()
        .enumerate()
        .map(|(index, column)| {
            let value = match (paths, &command.mapping) {
                (Some(paths), _) => follow(record, &paths[index]),
                (None, JsonMapping::Auto { ignore_case: true }) => {
                    record.as_object().and_then(|map| {
                        map.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(&column.name))
                            .map(|(_, v)| v)
                    })
                }
                (None, _) => record.get(&column.name),
            };
            let converted = convert(command, column, value.unwrap_or(&Value::Null)).map_err(
                |(code, reason)| (column, value.map_or(String::new(), raw_text), code, reason),
            )?;
            if converted.is_none() && column.not_null {
                return Err((
                    column,
                    String::new(),
                    1213,
                    "Missing data for not-null field".into(),
                ));
            }
            Ok(converted)
        })
        .collect()
}

fn raw_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One value for one column, or (error code, reason).
fn convert(
    command: &CopyCommand,
    column: &Column,
    value: &Value,
) -> Result<Option<String>, (i32, String)> {
    if value.is_null() {
        return Ok(None);
    }
    if let Kind::Text { max_bytes } = column.kind {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err((
                    1216,
                    "Invalid data: a JSON object or array cannot load into a text column".into(),
                ));
            }
        };
        if command.empty_as_null && text.is_empty() {
            return Ok(None);
        }
        if command.blanks_as_null && !text.is_empty() && text.chars().all(char::is_whitespace) {
            return Ok(None);
        }
        return match max_bytes {
            Some(max) if text.len() > max => {
                if command.truncate_columns {
                    let mut end = max;
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    Ok(Some(text[..end].to_owned()))
                } else {
                    Err((1204, "String length exceeds DDL length".into()))
                }
            }
            _ => Ok(Some(text)),
        };
    }
    // Non-text columns: a blank string is NULL.
    let text = match value {
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return Err((1223, "Invalid data type: a JSON object or array".into())),
    };
    match column.kind {
        Kind::Int { min, max } => {
            let digits = text.strip_prefix(['+', '-']).unwrap_or(&text);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                let (pos, bad) = text
                    .char_indices()
                    .find(|(i, c)| !(c.is_ascii_digit() || (*i == 0 && (*c == '-' || *c == '+'))))
                    .unwrap_or((0, ' '));
                return Err((
                    1207,
                    format!("Invalid digit, Value '{bad}', Pos {pos}, Type: Integer"),
                ));
            }
            match text.parse::<i64>() {
                Ok(n) if n >= min && n <= max => Ok(Some(n.to_string())),
                _ => Err((
                    1222,
                    format!(
                        "Overflow, Value '{text}' is out of range for {}",
                        column.type_name
                    ),
                )),
            }
        }
        Kind::Float => text
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|f| Some(format_float(f)))
            .ok_or((1208, format!("Invalid digit, Value '{text}', Type: Double"))),
        Kind::Decimal => {
            let valid = text.parse::<f64>().is_ok()
                && text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
            if valid {
                Ok(Some(text))
            } else {
                Err((
                    1209,
                    format!("Invalid digit, Value '{text}', Type: Decimal"),
                ))
            }
        }
        Kind::Bool => match text.to_ascii_lowercase().as_str() {
            "t" | "true" | "y" | "yes" | "1" => Ok(Some("true".into())),
            "f" | "false" | "n" | "no" | "0" => Ok(Some("false".into())),
            _ => Err((1210, format!("Invalid boolean value '{text}'"))),
        },
        Kind::Timestamp => timestamp(command.time_format.as_deref(), &text)
            .map(Some)
            .ok_or_else(|| {
                (
                    1206,
                    format!(
                        "Invalid timestamp format or value [{}]",
                        command
                            .time_format
                            .as_deref()
                            .unwrap_or("YYYY-MM-DD HH24:MI:SS")
                    ),
                )
            }),
        Kind::Date => date(command.date_format.as_deref(), &text)
            .map(Some)
            .ok_or_else(|| {
                (
                    1205,
                    format!(
                        "Invalid Date Format - value '{text}' [{}]",
                        command.date_format.as_deref().unwrap_or("YYYY-MM-DD")
                    ),
                )
            }),
        Kind::Text { .. } => unreachable!("handled above"),
    }
}

fn format_float(f: f64) -> String {
    // Rust's shortest round-trip form; PostgreSQL reads it back exactly.
    format!("{f:?}")
}

fn timestamp(format: Option<&str>, text: &str) -> Option<String> {
    let from_epoch = |micros: i64| Some(crate::backend::unix_micros_text(micros));
    match format.map(str::to_ascii_lowercase).as_deref() {
        Some("epochmillisecs") => text
            .parse::<f64>()
            .ok()
            .and_then(|ms| from_epoch((ms * 1000.0).round() as i64)),
        Some("epochsecs") => text
            .parse::<f64>()
            .ok()
            .and_then(|s| from_epoch((s * 1e6).round() as i64)),
        Some("auto") | None => plain_timestamp(text),
        Some(_) => plain_timestamp(text),
    }
}

/// `YYYY-MM-DD[ T]HH:MM:SS[.fff]`, checked field by field.
fn plain_timestamp(text: &str) -> Option<String> {
    let (date_part, time_part) = text.split_once([' ', 'T'])?;
    date(None, date_part)?;
    let mut pieces = time_part.trim_end_matches('Z').splitn(3, ':');
    let h: u32 = pieces.next()?.parse().ok()?;
    let m: u32 = pieces.next()?.parse().ok()?;
    let s: f64 = pieces.next().unwrap_or("0").parse().ok()?;
    (h < 24 && m < 60 && s < 61.0).then(|| format!("{date_part} {time_part}"))
}

fn date(_format: Option<&str>, text: &str) -> Option<String> {
    let mut pieces = text.splitn(3, '-');
    let y: u32 = pieces.next()?.parse().ok()?;
    let m: u32 = pieces.next()?.parse().ok()?;
    let d: u32 = pieces.next()?.parse().ok()?;
    ((1..=9999).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d))
        .then(|| text.to_owned())
}

/// Appends one row in PostgreSQL's COPY text format.
fn write_row(buffer: &mut BytesMut, fields: &[Option<String>]) {
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            buffer.put_u8(b'\t');
        }
        match field {
            None => buffer.put_slice(b"\\N"),
            Some(text) => {
                for byte in text.bytes() {
                    match byte {
                        b'\\' => buffer.put_slice(b"\\\\"),
                        b'\t' => buffer.put_slice(b"\\t"),
                        b'\n' => buffer.put_slice(b"\\n"),
                        b'\r' => buffer.put_slice(b"\\r"),
                        other => buffer.put_u8(other),
                    }
                }
            }
        }
    }
    buffer.put_u8(b'\n');
}

fn truncate_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// One step of a JSONPath: a key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PathStep {
    Key(String),
    Index(usize),
}

/// Reads a JSONPaths file: `{"jsonpaths": ["$['a']", "$.b", "$['c'][0]", ...]}`.
fn parse_jsonpaths(text: &str) -> Result<Vec<Vec<PathStep>>, String> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|err| format!("ERROR: JSONPaths file is not valid JSON: {err}"))?;
    let paths = doc
        .get("jsonpaths")
        .and_then(Value::as_array)
        .ok_or("ERROR: JSONPaths file must hold {\"jsonpaths\": [...]}")?;
    paths
        .iter()
        .map(|path| {
            let path = path
                .as_str()
                .ok_or("ERROR: every JSONPath must be a string")?;
            parse_path(path).ok_or_else(|| format!("ERROR: Invalid JSONPath format: {path}"))
        })
        .collect()
}

fn parse_path(path: &str) -> Option<Vec<PathStep>> {
    let mut rest = path.strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("['") {
            let end = after.find("']")?;
            steps.push(PathStep::Key(after[..end].to_owned()));
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix("[\"") {
            let end = after.find("\"]")?;
            steps.push(PathStep::Key(after[..end].to_owned()));
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            steps.push(PathStep::Index(after[..end].trim().parse().ok()?));
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return None;
            }
            steps.push(PathStep::Key(after[..end].to_owned()));
            rest = &after[end..];
        } else {
            return None;
        }
    }
    (!steps.is_empty()).then_some(steps)
}

fn follow<'v>(value: &'v Value, path: &[PathStep]) -> Option<&'v Value> {
    path.iter().try_fold(value, |current, step| match step {
        PathStep::Key(key) => current.get(key),
        PathStep::Index(index) => current.get(index),
    })
}

async fn table_columns(client: &Client, command: &CopyCommand) -> Result<Vec<Column>, String> {
    let rows = client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), t.typname::text, a.atttypmod, a.attnotnull \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
             AND a.attidentity = '' ORDER BY a.attnum",
            &[&command.table],
        )
        .await
        .map_err(|err| crate::backend::error_text(&err))?;
    if rows.is_empty() {
        return Err(format!(
            "ERROR: relation \"{}\" does not exist",
            command.table
        ));
    }
    let mut all = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.get(0);
        let type_name: String = row.get(1);
        let base: String = row.get(2);
        let typmod: i32 = row.get(3);
        let kind = match base.as_str() {
            "varchar" | "bpchar" | "text" => Kind::Text {
                max_bytes: (typmod > 4).then(|| (typmod - 4) as usize),
            },
            "int2" => Kind::Int {
                min: i16::MIN.into(),
                max: i16::MAX.into(),
            },
            "int4" => Kind::Int {
                min: i32::MIN.into(),
                max: i32::MAX.into(),
            },
            "int8" => Kind::Int {
                min: i64::MIN,
                max: i64::MAX,
            },
            "float4" | "float8" => Kind::Float,
            "numeric" => Kind::Decimal,
            "bool" => Kind::Bool,
            "timestamp" | "timestamptz" => Kind::Timestamp,
            "date" => Kind::Date,
            other => {
                return Err(format!(
                    "ERROR: column \"{name}\" has type {other}, which the local COPY does not load"
                ));
            }
        };
        all.push(Column {
            name,
            type_name,
            kind,
            not_null: row.get(4),
        });
    }
    match &command.columns {
        None => Ok(all),
        Some(wanted) => wanted
            .iter()
            .map(|name| {
                all.iter()
                    .find(|c| c.name.eq_ignore_ascii_case(name))
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "ERROR: column \"{name}\" of relation \"{}\" does not exist",
                            command.table
                        )
                    })
            })
            .collect(),
    }
}

fn split_uri(uri: &str) -> Result<(&str, &str), String> {
    uri.strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/').or(Some((rest, ""))))
        .filter(|(bucket, _)| !bucket.is_empty())
        .ok_or_else(|| format!("ERROR: '{uri}' is not an s3:// location"))
}

/// The objects a COPY reads: every key under the prefix, or the manifest's entries.
async fn source_objects(s3: &S3Client, command: &CopyCommand) -> Result<Vec<Source>, String> {
    if command.manifest {
        let manifest: Value = serde_json::from_slice(&get_object(s3, &command.from).await?)
            .map_err(|err| format!("ERROR: manifest {} is not valid JSON: {err}", command.from))?;
        let entries = manifest
            .get("entries")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("ERROR: manifest {} has no \"entries\" list", command.from))?;
        let mut uris = Vec::new();
        for entry in entries {
            let url = entry
                .get("url")
                .and_then(Value::as_str)
                .ok_or("ERROR: a manifest entry has no url")?;
            let mandatory = entry
                .get("mandatory")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            split_uri(url)?;
            // Whether it exists is learnt when it is read: one request per entry, not two.
            uris.push(Source {
                uri: url.to_owned(),
                need: if mandatory {
                    Need::Mandatory
                } else {
                    Need::Optional
                },
            });
        }
        return Ok(uris);
    }
    let (bucket, prefix) = split_uri(&command.from)?;
    let mut uris = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| s3_exception(&err, &format!("listing {}", command.from)))?;
        for object in page.contents() {
            if let Some(key) = object.key()
                && !key.ends_with('/')
            {
                uris.push(Source {
                    uri: format!("s3://{bucket}/{key}"),
                    need: Need::Listed,
                });
            }
        }
    }
    if uris.is_empty() {
        return Err(format!(
            "ERROR: The specified S3 prefix '{prefix}' does not exist"
        ));
    }
    uris.sort_by(|a, b| a.uri.cmp(&b.uri));
    Ok(uris)
}

/// An object a COPY reads, and what its absence means.
#[derive(Debug, Clone)]
struct Source {
    uri: String,
    need: Need,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Need {
    /// Listed under the prefix: gone by the time it is read is an error.
    Listed,
    /// A manifest entry with `"mandatory": true`: its absence fails the COPY (error 1212).
    Mandatory,
    /// Any other manifest entry: skipped when absent.
    Optional,
}

/// [`get_object`], with an object that does not exist as None.
async fn fetch_object(s3: &S3Client, uri: &str) -> Result<Option<Vec<u8>>, String> {
    let (bucket, key) = split_uri(uri)?;
    let object = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(object) => object,
        Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
            return Ok(None);
        }
        Err(err) => return Err(s3_exception(&err, &format!("reading {uri}"))),
    };
    read_body(object, uri).await.map(Some)
}

async fn get_object(s3: &S3Client, uri: &str) -> Result<Vec<u8>, String> {
    let (bucket, key) = split_uri(uri)?;
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|err| s3_exception(&err, &format!("reading {uri}")))?;
    read_body(object, uri).await
}

/// An S3 error as Redshift reports it (`S3ServiceException:<message>,Status <n>,Error <code>`),
/// with what COPY was doing; an error with no S3 answer (a transport failure) as the SDK words it.
fn s3_exception<E>(
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    doing: &str,
) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_s3::error::ProvideErrorMetadata;
    match (err.code(), err.raw_response()) {
        (Some(code), Some(raw)) => format!(
            "ERROR: S3ServiceException:{},Status {},Error {code} DETAIL: {doing}",
            err.message().unwrap_or(""),
            raw.status().as_u16()
        ),
        _ => format!("ERROR: S3 request failed ({doing}): {}", sdk_error(err)),
    }
}

async fn read_body(object: GetObjectOutput, uri: &str) -> Result<Vec<u8>, String> {
    let bytes: Bytes = object
        .body
        .collect()
        .await
        .map_err(|err| format!("ERROR: reading {uri} failed: {err}"))?
        .into_bytes();
    Ok(bytes.to_vec())
}

fn sdk_error(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Writes load errors to the load-error views, outside any transaction, as the admin: they
/// belong to `user` (who ran the COPY) and to `target`'s database.
pub async fn record_errors(
    client: &Client,
    query: i64,
    target: &crate::statements::Target,
    errors: &[LoadError],
) -> Result<(), String> {
    let user = target.user.name().map_or_else(
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
                    &target.database,
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
/// own loads and a superuser every load, as Redshift's do. STL_LOAD_ERRORS is in a schema only a
/// cluster target's statements search (a workgroup has no STL views); SYS_LOAD_ERROR_DETAIL has
/// exactly Redshift's columns and types (file_name is character(256), so it comes back padded).
/// Last, PUBLIC's privileges as Redshift gives them: CREATE and USAGE on schema public (which
/// PostgreSQL 15 revoked), and TEMP on the database.
pub const LOAD_ERROR_VIEWS: &str = "
CREATE SCHEMA IF NOT EXISTS redshift_local;
REVOKE ALL ON SCHEMA redshift_local FROM PUBLIC;
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
WHERE e.user_name = CURRENT_USER OR (SELECT rolsuper FROM pg_roles WHERE rolname = CURRENT_USER);
CREATE OR REPLACE VIEW redshift_local_stl.stl_load_errors AS
SELECT CAST(r.oid AS INTEGER) AS userid, 0 AS slice, e.tbl, e.starttime, e.session, e.query,
       CAST(e.filename AS CHARACTER(256)) AS filename, e.line_number,
       CAST(e.colname AS CHARACTER(127)) AS colname, CAST(e.type AS CHARACTER(10)) AS type,
       CAST(e.col_length AS CHARACTER(10)) AS col_length, 0 AS position,
       CAST(e.raw_line AS CHARACTER(1024)) AS raw_line,
       CAST(e.raw_field_value AS CHARACTER(1024)) AS raw_field_value, e.err_code,
       CAST(e.err_reason AS CHARACTER(100)) AS err_reason
FROM redshift_local.load_errors e LEFT JOIN pg_roles r ON r.rolname = e.user_name
WHERE e.user_name = CURRENT_USER OR (SELECT rolsuper FROM pg_roles WHERE rolname = CURRENT_USER);
GRANT SELECT ON redshift_local_sys.sys_load_error_detail, redshift_local_stl.stl_load_errors TO PUBLIC;
GRANT CREATE, USAGE ON SCHEMA public TO PUBLIC;
DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database()); END $$;
";

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(sql: &str) -> CopyCommand {
        parse(sql).unwrap().expect("a COPY")
    }

    #[test]
    fn parses_the_pipelines_copy_statements() {
        let events = parsed(
            "COPY staging_events FROM 's3://udacity-dend/log_data/' IAM_ROLE 'arn:aws:iam::1:role/r' \
             REGION 'us-west-2' FORMAT AS JSON 's3://udacity-dend/log_json_path.json' MAXERROR 10 \
             TRUNCATECOLUMNS BLANKSASNULL EMPTYASNULL COMPUPDATE OFF STATUPDATE OFF;",
        );
        assert_eq!(events.table, "staging_events");
        assert_eq!(events.from, "s3://udacity-dend/log_data/");
        assert_eq!(
            events.mapping,
            JsonMapping::Paths("s3://udacity-dend/log_json_path.json".into())
        );
        assert_eq!(events.max_errors, 10);
        assert!(events.truncate_columns && events.blanks_as_null && events.empty_as_null);
        let songs = parsed(
            "copy staging_songs (song_id, title) from 's3://b/song_data/' credentials 'aws_iam_role=x' json 'auto ignorecase' gzip manifest maxerror as 3 timeformat 'epochmillisecs'",
        );
        assert_eq!(songs.columns, Some(vec!["song_id".into(), "title".into()]));
        assert_eq!(songs.mapping, JsonMapping::Auto { ignore_case: true });
        assert!(songs.gzip && songs.manifest);
        assert_eq!(songs.time_format.as_deref(), Some("epochmillisecs"));
        assert_eq!(parse("SELECT 1").unwrap(), None);
    }

    #[test]
    fn unknown_options_and_formats_are_redshift_style_errors() {
        let unknown = parse("COPY t FROM 's3://b/k' JSON 'auto' EXPLODE").unwrap_err();
        assert!(
            unknown.starts_with("ERROR: syntax error at or near"),
            "{unknown}"
        );
        let csv = parse("COPY t FROM 's3://b/k' CSV").unwrap_err();
        assert!(csv.contains("not supported"), "{csv}");
        let no_format = parse("COPY t FROM 's3://b/k' IAM_ROLE default").unwrap_err();
        assert!(no_format.contains("JSON"), "{no_format}");
    }

    #[test]
    fn jsonpaths_read_bracket_and_dot_forms() {
        let paths = parse_jsonpaths(
            r#"{"jsonpaths": ["$['userId']", "$.a.b", "$['list'][1]", "$[\"q\"]"]}"#,
        )
        .unwrap();
        assert_eq!(paths[0], vec![PathStep::Key("userId".into())]);
        assert_eq!(
            paths[1],
            vec![PathStep::Key("a".into()), PathStep::Key("b".into())]
        );
        assert_eq!(
            paths[2],
            vec![PathStep::Key("list".into()), PathStep::Index(1)]
        );
        assert_eq!(paths[3], vec![PathStep::Key("q".into())]);
        assert!(parse_jsonpaths(r#"{"jsonpaths": ["artist"]}"#).is_err());
    }

    fn column(kind: Kind) -> Column {
        Column {
            name: "c".into(),
            type_name: "t".into(),
            kind,
            not_null: false,
        }
    }

    fn command() -> CopyCommand {
        parsed("COPY t FROM 's3://b/k' JSON 'auto'")
    }

    #[test]
    fn conversions_follow_the_documented_rules() {
        let cmd = command();
        let text8 = column(Kind::Text { max_bytes: Some(8) });
        let int = column(Kind::Int {
            min: i32::MIN.into(),
            max: i32::MAX.into(),
        });
        let float = column(Kind::Float);
        let convert = |c: &Column, v: Value| convert(&cmd, c, &v);
        use serde_json::json;
        assert_eq!(convert(&text8, json!(4.6)), Ok(Some("4.6".into())));
        assert_eq!(convert(&text8, json!(42)), Ok(Some("42".into())));
        assert_eq!(convert(&int, json!("42")), Ok(Some("42".into())));
        assert_eq!(convert(&int, json!(" -7 ")), Ok(Some("-7".into())));
        assert_eq!(convert(&int, json!("")), Ok(None));
        assert_eq!(convert(&int, json!(1.5)).unwrap_err().0, 1207);
        assert_eq!(convert(&int, json!("12a")).unwrap_err().0, 1207);
        assert_eq!(convert(&int, json!(3_000_000_000_i64)).unwrap_err().0, 1222);
        assert_eq!(
            convert(&float, json!(1540919166796.0)),
            Ok(Some("1540919166796.0".into()))
        );
        assert_eq!(convert(&float, json!("x")).unwrap_err().0, 1208);
        // "ü" is two bytes: nine bytes do not fit VARCHAR(8).
        assert_eq!(
            convert(&text8, json!("abcdefgü")).unwrap_err(),
            (1204, "String length exceeds DDL length".into())
        );
        assert_eq!(convert(&text8, json!({"a": 1})).unwrap_err().0, 1216);
        assert_eq!(convert(&text8, json!("")), Ok(Some(String::new())));
    }

    #[test]
    fn truncate_empty_and_blank_options_apply_to_text() {
        let cmd =
            parsed("COPY t FROM 's3://b/k' JSON 'auto' TRUNCATECOLUMNS EMPTYASNULL BLANKSASNULL");
        let text8 = column(Kind::Text { max_bytes: Some(8) });
        use serde_json::json;
        assert_eq!(
            convert(&cmd, &text8, &json!("abcdefgü")),
            Ok(Some("abcdefg".into()))
        );
        assert_eq!(convert(&cmd, &text8, &json!("")), Ok(None));
        assert_eq!(convert(&cmd, &text8, &json!("   ")), Ok(None));
    }

    #[test]
    fn timestamps_follow_timeformat() {
        assert_eq!(
            timestamp(Some("epochmillisecs"), "1541105830796").as_deref(),
            Some("2018-11-01 20:57:10.796")
        );
        assert_eq!(
            timestamp(None, "2018-11-01 21:01:46").as_deref(),
            Some("2018-11-01 21:01:46")
        );
        assert_eq!(timestamp(None, "yesterday"), None);
    }

    #[test]
    fn malformed_lines_are_rejected_and_loading_goes_on() {
        let cmd = command();
        let columns = vec![
            Column {
                name: "a".into(),
                type_name: "integer".into(),
                kind: Kind::Int {
                    min: i32::MIN.into(),
                    max: i32::MAX.into(),
                },
                not_null: false,
            },
            Column {
                name: "b".into(),
                type_name: "character varying(4)".into(),
                kind: Kind::Text { max_bytes: Some(4) },
                not_null: false,
            },
        ];
        let raw = b"{\"a\": 1, \"b\": \"x\"}\n{\"a\": 2, \"b\": \n{\"a\": \"z\"}\n{\"b\": \"toolong\"}\n{\"a\": 5}";
        let mut buffer = BytesMut::new();
        let mut report = CopyReport::default();
        load_object(
            &cmd,
            &columns,
            None,
            "s3://b/f.json",
            raw,
            &mut buffer,
            &mut report,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(buffer.to_vec()).unwrap(),
            "1\tx\n5\t\\N\n"
        );
        let rejected: Vec<(i64, i32, &str)> = report
            .errors
            .iter()
            .map(|e| (e.line, e.code, e.column.as_str()))
            .collect();
        assert_eq!(rejected, [(2, 1216, ""), (3, 1207, "a"), (4, 1204, "b")]);
        assert!(report.errors.iter().all(|e| e.file == "s3://b/f.json"));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_rejected_and_a_record_over_4_mb_fails_the_copy() {
        let columns = vec![Column {
            name: "b".into(),
            type_name: "character varying(8)".into(),
            kind: Kind::Text { max_bytes: Some(8) },
            not_null: false,
        }];
        let mut cmd = command();
        cmd.truncate_columns = true;
        let raw =
            b"{\"b\": \"ok\"}\n{\"b\": \"caf\xe9\"}\n{\"b\": \"\xa4\"}\n{\"b\": \"last\"}".to_vec();
        let mut buffer = BytesMut::new();
        let mut report = CopyReport::default();
        load_object(
            &cmd,
            &columns,
            None,
            "s3://b/f.json",
            &raw,
            &mut buffer,
            &mut report,
        )
        .unwrap();
        assert_eq!(String::from_utf8(buffer.to_vec()).unwrap(), "ok\nlast\n");
        let rejected: Vec<(i64, i32)> = report.errors.iter().map(|e| (e.line, e.code)).collect();
        assert_eq!(rejected, [(2, 1220), (3, 1220)]);
        // 0xe9 starts a three-byte sequence that the quote cuts short; 0xa4 cannot start one.
        assert!(
            report.errors[0]
                .reason
                .ends_with("Bad UTF8 hex sequence: e9 (error 4)")
        );
        assert!(
            report.errors[1]
                .reason
                .ends_with("Bad UTF8 hex sequence: a4 (error 3)")
        );

        // One record over 4 MB: "the COPY command fails", it is not a rejected record.
        let mut big = b"{\"b\": \"ok\"}\n".to_vec();
        big.extend(format!("{{\"b\": \"{}\"}}\n", "x".repeat(MAX_JSON_RECORD_BYTES)).bytes());
        let mut report = CopyReport::default();
        let error = load_object(
            &cmd,
            &columns,
            None,
            "s3://b/f.json",
            &big,
            &mut BytesMut::new(),
            &mut report,
        )
        .unwrap_err();
        assert!(
            error.contains("line 2 of s3://b/f.json") && error.contains("4 MB"),
            "{error}"
        );
        assert!(report.errors.is_empty());
    }

    #[test]
    fn maxerror_above_its_limit_is_refused() {
        assert!(parse("COPY t FROM 's3://b/k' JSON 'auto' MAXERROR 100000").is_ok());
        let error = parse("COPY t FROM 's3://b/k' JSON 'auto' MAXERROR 100001").unwrap_err();
        assert!(error.contains("limit of 100000"), "{error}");
    }

    #[test]
    fn region_is_kept_for_reading_s3() {
        assert_eq!(
            parsed("COPY t FROM 's3://b/k' REGION 'eu-west-1' JSON 'auto'")
                .region
                .as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(command().region, None);
        assert_eq!(column_length("character varying(32)"), "32");
        assert_eq!(column_length("integer"), "");
    }
}
