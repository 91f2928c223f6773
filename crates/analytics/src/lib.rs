//! sparkify-analytics: runs the analysts' queries (`sql/analytics/`) through the Redshift Data API,
//! on a deployed warehouse or on the local stand-in, and gives each result as a printable table.

use aws_sdk_redshiftdata::types::Field;
use sparkify::data_api::{Progress, client_token};
use sparkify::sql::{SqlFile, catalogue, render};
use sparkify::{DataApi, EtlError};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// How long one query may run before the command stops waiting for it.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(600);

/// Why the command did not print every table.
#[derive(Debug)]
pub enum AnalyticsError {
    /// A name on the command line that is not a file of `sql/analytics/`.
    UnknownQuery { name: String, known: Vec<String> },
    /// The query was still running after [`QUERY_TIMEOUT`].
    QueryTimedOut { name: String, status: String },
    /// The Data API or the warehouse refused or failed the query.
    Warehouse { name: String, error: EtlError },
}

impl AnalyticsError {
    pub fn name(&self) -> &'static str {
        match self {
            Self::UnknownQuery { .. } => "UnknownQuery",
            Self::QueryTimedOut { .. } => "QueryTimedOut",
            Self::Warehouse { error, .. } => error.name(),
        }
    }
}

impl fmt::Display for AnalyticsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownQuery { name, known } => {
                write!(
                    f,
                    "no query {name:?} in sql/analytics/ (there are: {})",
                    known.join(", ")
                )
            }
            Self::QueryTimedOut { name, status } => {
                write!(
                    f,
                    "{name}: still {status} after {} s",
                    QUERY_TIMEOUT.as_secs()
                )
            }
            // The warehouse's error text can quote the database's strings.
            Self::Warehouse { name, error } => {
                write!(f, "{name}: {}", printable(&error.to_string()))
            }
        }
    }
}

impl std::error::Error for AnalyticsError {}

/// One query's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The file's name without `.sql`, e.g. `most_played_songs`.
    pub name: String,
    /// The file's first comment line.
    pub title: String,
    pub columns: Vec<String>,
    /// Every value as text; NULL as `NULL`.
    pub rows: Vec<Vec<String>>,
}

/// The names of the queries, in catalogue order.
pub fn names() -> Vec<String> {
    catalogue::ANALYTICS.iter().map(name).collect()
}

fn name(file: &SqlFile) -> String {
    let stem = file.path.rsplit('/').next().unwrap_or(file.path);
    stem.trim_end_matches(".sql").to_owned()
}

fn title(file: &SqlFile) -> String {
    file.text
        .lines()
        .find_map(|line| line.strip_prefix("--"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Runs the queries named (every one when `names` is empty), one after another, in the order
/// given.
pub async fn run(api: &DataApi, names: &[String]) -> Result<Vec<Report>, AnalyticsError> {
    let files: Vec<SqlFile> = if names.is_empty() {
        catalogue::ANALYTICS.to_vec()
    } else {
        names
            .iter()
            .map(|wanted| {
                catalogue::ANALYTICS
                    .iter()
                    .find(|file| &name(file) == wanted)
                    .copied()
                    .ok_or_else(|| AnalyticsError::UnknownQuery {
                        name: wanted.clone(),
                        known: self::names(),
                    })
            })
            .collect::<Result<_, _>>()?
    };
    // Each invocation's statements get tokens of their own: a token repeats only on a retry.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let invocation = format!("sparkify-analytics/{}/{nanos}", std::process::id());
    let mut reports = Vec::with_capacity(files.len());
    for file in files {
        reports.push(query(api, &file, &invocation).await?);
    }
    Ok(reports)
}

async fn query(api: &DataApi, file: &SqlFile, invocation: &str) -> Result<Report, AnalyticsError> {
    let name = name(file);
    let failed = |error: EtlError| AnalyticsError::Warehouse {
        name: name.clone(),
        error,
    };
    let sql = render(file, &[]).map_err(failed)?;
    let id = api
        .submit(
            vec![sql],
            &client_token(invocation, file.path),
            &format!("sparkify-analytics-{name}"),
        )
        .await
        .map_err(failed)?;
    let deadline = Instant::now() + QUERY_TIMEOUT;
    if let Progress::Running { status } = api.settle(&id, deadline, true).await.map_err(failed)? {
        return Err(AnalyticsError::QueryTimedOut { name, status });
    }
    // One SQL in a batch: its result is the first sub-statement's.
    let (columns, rows) = api.result_table(&format!("{id}:1")).await.map_err(failed)?;
    Ok(Report {
        title: title(file),
        columns,
        rows: rows
            .iter()
            .map(|row| row.iter().map(cell).collect())
            .collect(),
        name,
    })
}

/// A value as the table shows it.
pub fn cell(field: &Field) -> String {
    match field {
        Field::StringValue(text) => text.clone(),
        Field::LongValue(n) => n.to_string(),
        Field::DoubleValue(x) => x.to_string(),
        Field::BooleanValue(b) => b.to_string(),
        Field::IsNull(_) => "NULL".to_owned(),
        Field::BlobValue(blob) => format!("<{} bytes>", blob.as_ref().len()),
        other => format!("{other:?}"),
    }
}

/// `text` safe to print on a terminal: every control character (C0 but for tab and newline, DEL,
/// C1) escaped as Rust writes it (`\u{1b}`), so a string from the database cannot move the
/// cursor, clear the screen, set the window title or write a hyperlink. Tab and newline are kept
/// here (multi-line error text); a table cell escapes them too ([`cell_text`]).
pub fn printable(text: &str) -> String {
    escape(text, |c| c == '\n' || c == '\t')
}

/// A table cell's `text` safe to print on one line: every control character escaped, tab and
/// newline as `\t` and `\n`.
pub fn cell_text(text: &str) -> String {
    escape(text, |_| false)
}

fn escape(text: &str, kept: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && !kept(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

impl fmt::Display for Report {
    /// The title, then the table: a header, a rule, one line per row; numeric columns aligned
    /// right, the rest left; then the row count. Every string is printed through [`cell_text`]
    /// or [`printable`]: the database's strings never reach the terminal as control characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", cell_text(&self.name), cell_text(&self.title))?;
        let columns: Vec<String> = self.columns.iter().map(|c| cell_text(c)).collect();
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| row.iter().map(|value| cell_text(value)).collect())
            .collect();
        let widths: Vec<usize> = (0..columns.len())
            .map(|c| {
                rows.iter()
                    .map(|row| row[c].chars().count())
                    .chain([columns[c].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let numeric: Vec<bool> = (0..columns.len())
            .map(|c| {
                !rows.is_empty()
                    && rows
                        .iter()
                        .all(|row| row[c] == "NULL" || row[c].parse::<f64>().is_ok())
            })
            .collect();
        let line = |cells: &[String]| {
            cells
                .iter()
                .enumerate()
                .map(|(c, text)| {
                    let pad = " ".repeat(widths[c] - text.chars().count());
                    if numeric[c] {
                        format!("{pad}{text}")
                    } else {
                        format!("{text}{pad}")
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_owned()
        };
        writeln!(f, "  {}", line(&columns))?;
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        writeln!(f, "  {}", rule.join("  "))?;
        for row in &rows {
            writeln!(f, "  {}", line(row))?;
        }
        let n = rows.len();
        writeln!(f, "  ({n} row{})", if n == 1 { "" } else { "s" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_analytics_file_has_a_name_and_a_title() {
        let names = names();
        assert_eq!(names.len(), catalogue::ANALYTICS.len());
        assert!(names.contains(&"most_played_songs".to_owned()), "{names:?}");
        for file in catalogue::ANALYTICS {
            assert!(!title(&file).is_empty(), "{}", file.path);
        }
    }

    #[test]
    fn a_report_prints_as_an_aligned_table() {
        let report = Report {
            name: "plays".into(),
            title: "Plays by level.".into(),
            columns: vec!["level".into(), "plays".into()],
            rows: vec![
                vec!["free".into(), "7".into()],
                vec!["paid".into(), "1203".into()],
                vec!["NULL".into(), "NULL".into()],
            ],
        };
        assert_eq!(
            report.to_string(),
            "plays: Plays by level.\n  level  plays\n  -----  -----\n  free       7\n  paid    1203\n  NULL    NULL\n  (3 rows)\n"
        );
    }

    #[test]
    fn terminal_control_characters_from_the_database_print_escaped() {
        let report = Report {
            name: "plays".into(),
            title: "Plays by song.".into(),
            columns: vec!["song\u{1b}]0;owned\u{7}".into(), "plays".into()],
            rows: vec![
                vec!["\u{1b}[2J".into(), "1".into()],
                vec!["a\tb\nc\u{9b}31m\u{7f}\u{0}".into(), "2".into()],
                vec!["Caf\u{e9} \\ ok".into(), "3".into()],
            ],
        };
        let shown = report.to_string();
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\n'),
            "{shown:?}"
        );
        for escaped in [
            "song\\u{1b}]0;owned\\u{7}",
            "\\u{1b}[2J",
            "a\\tb\\nc\\u{9b}31m\\u{7f}\\u{0}",
            // Printable text, backslashes and all, is shown as it is.
            "Caf\u{e9} \\ ok",
        ] {
            assert!(shown.contains(escaped), "{escaped} not in {shown}");
        }
        // Escaped, each row is one line, and the table stays aligned on the escaped text.
        assert_eq!(shown.lines().count(), 7, "{shown}");
        let error = AnalyticsError::Warehouse {
            name: "plays".into(),
            error: EtlError::StatementFailed {
                statement_id: "s".into(),
                sub_statement: None,
                error: "ERROR: invalid input \"\u{1b}[2J\u{1b}]8;;http://x\u{7}\"".into(),
            },
        };
        let shown = error.to_string();
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert!(shown.contains("\\u{1b}[2J"), "{shown}");
    }

    #[test]
    fn values_print_as_text() {
        assert_eq!(cell(&Field::LongValue(42)), "42");
        assert_eq!(cell(&Field::DoubleValue(0.5)), "0.5");
        assert_eq!(cell(&Field::IsNull(true)), "NULL");
        assert_eq!(cell(&Field::StringValue("Let's go".into())), "Let's go");
    }
}
