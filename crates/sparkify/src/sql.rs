//! The SQL catalogue (every file of `sql/`, embedded at build time) and the one way Rust puts a
//! value into SQL: a `{{name}}` placeholder filled with a [`Literal`], which can only be made from a
//! vetted value. No other SQL text is assembled in Rust.

use crate::error::EtlError;
use std::fmt;

/// One file of `sql/`: its path below `sql/` and its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlFile {
    pub path: &'static str,
    pub text: &'static str,
}

macro_rules! sql_file {
    ($path:literal) => {
        SqlFile {
            path: $path,
            text: include_str!(concat!("../../../sql/", $path)),
        }
    };
}

/// Every statement the pipeline runs, grouped by step, in the order each step runs them.
pub mod catalogue {
    use super::SqlFile;

    /// Referenced tables come before the tables whose foreign keys name them.
    pub const CREATE_TABLES: [SqlFile; 13] = [
        sql_file!("create/staging_events.sql"),
        sql_file!("create/staging_songs.sql"),
        sql_file!("create/changed_songs.sql"),
        sql_file!("create/changed_users.sql"),
        sql_file!("create/staging_files.sql"),
        sql_file!("create/load_ledger.sql"),
        sql_file!("create/load_quarantine.sql"),
        sql_file!("create/load_listing.sql"),
        sql_file!("create/artists.sql"),
        sql_file!("create/songs.sql"),
        sql_file!("create/users.sql"),
        sql_file!("create/time.sql"),
        sql_file!("create/songplays.sql"),
    ];
    /// First in create-tables' batch when the tables exist: fails when one is missing, and the
    /// batch that creates them is sent instead.
    pub const TABLES_EXIST: SqlFile = sql_file!("create/tables_exist.sql");
    /// After the CREATEs: a warehouse of an older shape fails here, by name.
    pub const EVENT_STORE_SHAPE: SqlFile = sql_file!("create/event_store_shape.sql");
    /// After the CREATEs, when the configuration names the readers' database roles: what each
    /// may read (and the operators' one write), granted on every run.
    pub const GRANT_LOCK: SqlFile = sql_file!("create/grant_lock.sql");
    pub const GRANT_ANALYSTS: SqlFile = sql_file!("create/grant_analysts.sql");
    pub const GRANT_OPERATORS: [SqlFile; 2] = [
        sql_file!("create/grant_operators_select.sql"),
        sql_file!("create/grant_operators_delete.sql"),
    ];
    pub const DROP_TABLES: SqlFile = sql_file!("reset/drop_tables.sql");
    /// create-tables' clean-up of staging rows that ended executions left behind, after its lock.
    pub const REAP_LOCK: SqlFile = sql_file!("reap/lock.sql");
    pub const REAP_STAGING: [SqlFile; 2] = [
        sql_file!("reap/staging_events.sql"),
        sql_file!("reap/staging_files.sql"),
    ];

    /// copy-staging's batch that records the execution's listing in `load_listing`, once.
    pub const RECORD_LISTING: [SqlFile; 3] = [
        sql_file!("copy/listing_lock.sql"),
        sql_file!("copy/listing_clear.sql"),
        sql_file!("copy/listing_copy.sql"),
    ];
    /// copy-staging's batch that hands the rest of the listing to the execution that takes on
    /// what this one left when its load budget ran out.
    pub const HAND_OVER: [SqlFile; 3] = [
        sql_file!("copy/handover_lock.sql"),
        sql_file!("copy/handover_staged.sql"),
        sql_file!("copy/handover_rest.sql"),
    ];
    /// copy-staging's plan of a round: its log objects, its song objects, and the log objects it
    /// leaves out for being in quarantine (results 1, 2 and 3 of the batch).
    pub const PLAN: [SqlFile; 3] = [
        sql_file!("copy/plan_logs.sql"),
        sql_file!("copy/plan_songs.sql"),
        sql_file!("copy/plan_in_quarantine.sql"),
    ];
    /// copy-staging's rounds, in batch order (copy-staging assembles them from these): a round of
    /// log objects stages their lines; a round of song objects publishes them at once.
    pub const LOCK_CATALOGUE: SqlFile = sql_file!("copy/lock_catalogue.sql");
    pub const LOCK_ROUND: SqlFile = sql_file!("copy/lock_round.sql");
    pub const COPY_STAGING_FILES: SqlFile = sql_file!("copy/staging_files.sql");
    pub const EVENTS_LOAD_CREATE: SqlFile = sql_file!("copy/events_load_create.sql");
    pub const COPY_STAGING_EVENTS: SqlFile = sql_file!("copy/staging_events.sql");
    pub const EVENTS_LOAD_TAG: SqlFile = sql_file!("copy/events_load_tag.sql");
    pub const EVENTS_STAGE: SqlFile = sql_file!("copy/events_stage.sql");
    pub const SONGS_LOAD_CREATE: SqlFile = sql_file!("copy/songs_load_create.sql");
    pub const COPY_STAGING_SONGS: SqlFile = sql_file!("copy/staging_songs.sql");
    /// After the song COPY: the catalogue, the ledger, the songs to match again, and the songs and
    /// artists rows of what changed, in one transaction with the COPY.
    pub const SONGS_PUBLISH: [SqlFile; 12] = [
        sql_file!("copy/songs_keyed.sql"),
        sql_file!("copy/songs_changed_artists.sql"),
        sql_file!("copy/songs_replace.sql"),
        sql_file!("copy/songs_insert.sql"),
        sql_file!("copy/songs_ledger_replace.sql"),
        sql_file!("copy/songs_ledger_insert.sql"),
        sql_file!("copy/songs_changed.sql"),
        sql_file!("copy/songs_dimension_delete.sql"),
        SONGS_INSERT,
        sql_file!("copy/artists_dimension_delete.sql"),
        ARTISTS_INSERT,
        sql_file!("copy/songs_quarantine_release.sql"),
    ];
    /// copy-staging's batch that records a log object whose COPY failed for its content, alone.
    pub const QUARANTINE: [SqlFile; 3] = [
        sql_file!("copy/quarantine_lock.sql"),
        sql_file!("copy/quarantine_insert.sql"),
        sql_file!("copy/quarantine_replace.sql"),
    ];

    /// The inserts whose rows the steps report they moved, each by the table it fills.
    pub const SONGPLAYS_INSERT: SqlFile = sql_file!("facts/songplays_insert.sql");
    pub const TIME_INSERT: SqlFile = sql_file!("facts/time_insert.sql");
    pub const USERS_INSERT: SqlFile = sql_file!("dimensions/users_insert.sql");
    pub const SONGS_INSERT: SqlFile = sql_file!("copy/songs_dimension_insert.sql");
    pub const ARTISTS_INSERT: SqlFile = sql_file!("copy/artists_dimension_insert.sql");

    /// load-facts: publishes the execution's events (the event store, the ledger), then rewrites
    /// the plays they and the changed songs touch, and their start times.
    pub const LOAD_FACTS: [SqlFile; 17] = [
        sql_file!("facts/lock.sql"),
        sql_file!("facts/run_objects.sql"),
        sql_file!("facts/plays_changed_by_events.sql"),
        sql_file!("facts/users_changed.sql"),
        sql_file!("facts/events_retire.sql"),
        sql_file!("facts/events_publish.sql"),
        sql_file!("facts/events_ledger_replace.sql"),
        sql_file!("facts/events_ledger_insert.sql"),
        sql_file!("facts/quarantine_release.sql"),
        sql_file!("facts/plays_changed_by_songs.sql"),
        sql_file!("facts/changed_songs_clear.sql"),
        sql_file!("facts/time_affected.sql"),
        sql_file!("facts/songplays_delete.sql"),
        SONGPLAYS_INSERT,
        sql_file!("facts/time_delete_orphans.sql"),
        sql_file!("facts/time_new.sql"),
        TIME_INSERT,
    ];

    /// load-dimensions: the rows of the users whose events changed.
    pub const LOAD_DIMENSIONS: [SqlFile; 5] = [
        sql_file!("dimensions/lock.sql"),
        sql_file!("dimensions/users_latest.sql"),
        sql_file!("dimensions/users_delete.sql"),
        USERS_INSERT,
        sql_file!("dimensions/changed_users_clear.sql"),
    ];

    /// verify-counts' batch: its lock, the reports (counts, checks, what the loads refused, the
    /// plays waiting for their song, the refused songs, the newest play), then the end of the
    /// run's staging. The handler reads results
    /// by position in this list.
    pub const VERIFY: [SqlFile; 10] = [
        sql_file!("verify/lock.sql"),
        sql_file!("verify/table_counts.sql"),
        sql_file!("verify/quality_checks.sql"),
        sql_file!("verify/load_errors.sql"),
        sql_file!("verify/refused_events.sql"),
        sql_file!("verify/waiting_plays.sql"),
        sql_file!("verify/refused_songs.sql"),
        sql_file!("verify/freshness.sql"),
        sql_file!("verify/clear_staging_files.sql"),
        sql_file!("verify/clear_listing.sql"),
    ];
    /// The checks of a run of new log files, in place of `verify/quality_checks.sql`: over what
    /// the run wrote, not over whole tables.
    pub const QUALITY_CHECKS_RUN: SqlFile = sql_file!("verify/quality_checks_run.sql");
    /// The counts of a run of new log files, in place of `verify/table_counts.sql`: the tables
    /// it writes, not the catalogue it leaves as it was.
    pub const TABLE_COUNTS_RUN: SqlFile = sql_file!("verify/table_counts_run.sql");
    /// The plays waiting for their song among a run of new log files' own lines, in place of
    /// `verify/waiting_plays.sql`: the run's lines, not the whole event store.
    pub const WAITING_PLAYS_RUN: SqlFile = sql_file!("verify/waiting_plays_run.sql");
    /// verify-counts' question when the run has load errors: which of their objects it loaded.
    pub const REJECTED_OBJECTS: SqlFile = sql_file!("verify/rejected_objects.sql");

    /// The analysts' queries, run on demand rather than by the pipeline.
    pub const ANALYTICS: [SqlFile; 3] = [
        sql_file!("analytics/most_played_songs.sql"),
        sql_file!("analytics/plays_by_hour.sql"),
        sql_file!("analytics/free_vs_paid.sql"),
    ];

    /// The operators' queries (`./dev status`, `./dev quarantine`: tools/ops.py), run on demand
    /// through the Data API rather than by the pipeline; they also run `verify/freshness.sql` and
    /// `verify/waiting_plays.sql`.
    pub const OPERATIONS: [SqlFile; 5] = [
        sql_file!("ops/ledger.sql"),
        sql_file!("ops/object_loaded.sql"),
        sql_file!("ops/listed_not_loaded.sql"),
        sql_file!("ops/quarantine_list.sql"),
        sql_file!("ops/quarantine_release.sql"),
    ];

    /// The one order in which every batch locks the pipeline's tables (its first statement, or
    /// create-tables' before its clean-up). Redshift's LOCK is ACCESS EXCLUSIVE and writes take
    /// ShareRowExclusiveLock, so two batches that took two tables in opposite orders could
    /// deadlock; queries that read several tables outside a LOCK name them in this order too.
    pub const LOCK_ORDER: [&str; 13] = [
        "load_listing",
        "load_ledger",
        "load_quarantine",
        "staging_files",
        "staging_events",
        "staging_songs",
        "changed_songs",
        "changed_users",
        "songplays",
        "users",
        "songs",
        "artists",
        "time",
    ];

    /// Every file in the catalogue; a house-rule test checks it is exactly the files of `sql/`.
    pub fn all() -> Vec<SqlFile> {
        let singles = [
            TABLES_EXIST,
            EVENT_STORE_SHAPE,
            GRANT_LOCK,
            GRANT_ANALYSTS,
            QUALITY_CHECKS_RUN,
            TABLE_COUNTS_RUN,
            WAITING_PLAYS_RUN,
            DROP_TABLES,
            LOCK_CATALOGUE,
            LOCK_ROUND,
            REAP_LOCK,
            COPY_STAGING_FILES,
            EVENTS_LOAD_CREATE,
            COPY_STAGING_EVENTS,
            EVENTS_LOAD_TAG,
            EVENTS_STAGE,
            SONGS_LOAD_CREATE,
            COPY_STAGING_SONGS,
            REJECTED_OBJECTS,
        ];
        CREATE_TABLES
            .into_iter()
            .chain(singles)
            .chain(REAP_STAGING)
            .chain(GRANT_OPERATORS)
            .chain(RECORD_LISTING)
            .chain(HAND_OVER)
            .chain(PLAN)
            .chain(SONGS_PUBLISH)
            .chain(QUARANTINE)
            .chain(LOAD_FACTS)
            .chain(LOAD_DIMENSIONS)
            .chain(VERIFY)
            .chain(ANALYTICS)
            .chain(OPERATIONS)
            .collect()
    }
}

/// Text that is safe to place in SQL as it is: built only from vetted values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal(String);

impl Literal {
    /// `'s3://bucket/key'`, quotes in the key doubled.
    pub fn s3_uri(bucket: &BucketName, key: &S3Key) -> Self {
        Self::quoted(&format!("s3://{}/{}", bucket.0, key.0))
    }

    /// `'s3://bucket/%'`: a LIKE pattern for every object of the bucket. A bucket name holds no
    /// `%` or `_`, so the pattern matches exactly that prefix.
    pub fn bucket_files(bucket: &BucketName) -> Self {
        Self::quoted(&format!("s3://{}/%", bucket.0))
    }

    pub fn role(arn: &IamRoleArn) -> Self {
        Self::quoted(&arn.0)
    }

    /// A database role's name, double-quoted: [`DbRole`] admits only lower case letters, digits
    /// and underscores, so quoting changes nothing but lets a reserved word (`user`, `group`) be
    /// a role's name.
    pub fn db_role(role: &DbRole) -> Self {
        Self(format!("\"{}\"", role.as_str()))
    }

    pub fn region(region: &Region) -> Self {
        Self::quoted(&region.0)
    }

    pub fn count(n: u32) -> Self {
        Self(n.to_string())
    }

    /// COPY's file compression parameter for an object compressed with `codec`: `GZIP`, `BZIP2`
    /// or `ZSTD`, a keyword of a closed set; nothing for an object that is not compressed.
    pub fn compression(codec: Codec) -> Self {
        Self(codec.keyword().to_owned())
    }

    /// A whole number (an object's size).
    pub fn integer(n: i64) -> Self {
        Self(n.to_string())
    }

    /// Free text from outside (an error message, an ETag) as a string literal of at most
    /// `max_bytes` UTF-8 bytes: control characters become spaces and backslashes slashes (Redshift
    /// reads a backslash in a literal as an escape), and the text is cut on a character boundary.
    pub fn text(text: &str, max_bytes: usize) -> Self {
        let mut clean = String::with_capacity(text.len().min(max_bytes));
        for c in text.chars() {
            let c = match c {
                '\\' => '/',
                c if c.is_control() => ' ',
                c => c,
            };
            if clean.len() + c.len_utf8() > max_bytes {
                break;
            }
            clean.push(c);
        }
        Self::quoted(&clean)
    }

    /// An execution's id.
    pub fn run(run: &RunId) -> Self {
        Self::quoted(&run.0)
    }

    /// `'a', 'b'`: execution ids for `IN (...)`; None for an empty list, which SQL cannot write.
    pub fn runs(runs: &[RunId]) -> Option<Self> {
        Self::list(runs.iter().map(Self::run))
    }

    /// `CAST('2026-11-22 18:00:00.123' AS TIMESTAMP)`.
    pub fn timestamp(at: &Timestamp) -> Self {
        Self(format!("CAST('{}' AS TIMESTAMP)", at.0))
    }

    /// An S3 key as text (not as a URI), for the ledger and the lineage columns.
    pub fn key(key: &S3Key) -> Self {
        Self::quoted(&key.0)
    }

    /// `'a', 'b'`: S3 keys as text for `IN (...)`; None for an empty list, which SQL cannot write.
    pub fn keys(keys: &[S3Key]) -> Option<Self> {
        Self::list(keys.iter().map(Self::key))
    }

    /// Every key under `prefix` as a range of its sort key, `(from, to)`: `from <= key < to` for
    /// each key that starts with `prefix`, as Redshift orders VARCHARs (by their UTF-8 bytes,
    /// which is the order of their code points). A condition on constants is what a zone map
    /// prunes blocks by ("Sort keys": "range-restricted predicate"), where a join on the key is
    /// not. `to` is the prefix with its last character replaced by the next one that is neither
    /// a control character nor a backslash (which a literal could not hold as it is; the
    /// characters past the last that has a next dropped); a prefix of nothing but U+10FFFF has no
    /// such string, and `to` is then 1,025 of them, more than any key of at most 1,024 bytes.
    pub fn key_range(prefix: &S3Key) -> (Self, Self) {
        let mut to: Vec<char> = prefix.0.chars().collect();
        let upper = loop {
            let Some(last) = to.pop() else {
                break char::MAX.to_string().repeat(1025);
            };
            // Any greater character bounds the range; one that a literal may hold as it is.
            let next = (u32::from(last) + 1..=u32::from(char::MAX))
                .filter_map(char::from_u32)
                .find(|c| !c.is_control() && *c != '\\');
            if let Some(next) = next {
                to.push(next);
                break to.into_iter().collect();
            }
        };
        (Self::key(prefix), Self::quoted(&upper))
    }

    /// Literals joined by `, ` for `IN (...)`; None for none.
    fn list(items: impl Iterator<Item = Self>) -> Option<Self> {
        let joined = items.map(|item| item.0).collect::<Vec<_>>().join(", ");
        (!joined.is_empty()).then_some(Self(joined))
    }

    /// A standard SQL string literal. Callers pass only vetted text, which never holds a
    /// backslash or control character, so doubling quotes is the whole escape.
    fn quoted(text: &str) -> Self {
        Self(format!("'{}'", text.replace('\'', "''")))
    }

    pub fn as_sql(&self) -> &str {
        &self.0
    }
}

/// Fills every `{{name}}` of `file` from `values`. An unknown placeholder, or a value that fills
/// nothing, is an error: the template and its caller disagree.
pub fn render(file: &SqlFile, values: &[(&str, Literal)]) -> Result<String, EtlError> {
    let template_err = |why: String| EtlError::Config(format!("sql/{}: {why}", file.path));
    let mut out = String::with_capacity(file.text.len() + 128);
    let mut used = vec![false; values.len()];
    let mut rest = file.text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| template_err("unclosed {{".into()))?;
        let name = after[..end].trim();
        let index = values
            .iter()
            .position(|(key, _)| *key == name)
            .ok_or_else(|| template_err(format!("no value for {{{{{name}}}}}")))?;
        used[index] = true;
        out.push_str(values[index].1.as_sql());
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    if let Some(unused) = used.iter().position(|used| !used) {
        return Err(template_err(format!(
            "value {:?} fills no placeholder",
            values[unused].0
        )));
    }
    Ok(out)
}

/// Renders each of a step's files with the execution's id and the range of the log objects'
/// keys (under `log_prefix`, [`Literal::key_range`]): `{{run}}`, `{{log_keys_from}}` and
/// `{{log_keys_to}}` where a file has them (a file with any other placeholder is an error).
pub fn render_for_run(
    files: &[SqlFile],
    run: &RunId,
    log_prefix: &S3Key,
) -> Result<Vec<String>, EtlError> {
    let (from, to) = Literal::key_range(log_prefix);
    let values = [
        ("run", Literal::run(run)),
        ("log_keys_from", from),
        ("log_keys_to", to),
    ];
    files
        .iter()
        .map(|file| render_named(file, &values))
        .collect()
}

/// [`render`] with those of `values` that `file` names (a step offers its files the same
/// values, and each names some of them).
pub fn render_named(file: &SqlFile, values: &[(&str, Literal)]) -> Result<String, EtlError> {
    let named: Vec<(&str, Literal)> = values
        .iter()
        .filter(|(name, _)| file.text.contains(&format!("{{{{{name}}}}}")))
        .cloned()
        .collect();
    render(file, &named)
}

/// The id of an execution as the tables record it (`run_id`, VARCHAR(80)): the execution's name,
/// which is the last part of its ARN and unique per state machine; a hand-run's whole name
/// otherwise. Step Functions counts a name's 80 in characters, Redshift a VARCHAR's in bytes
/// ("Character types"), so a name over 80 bytes (non-ASCII letters) is recorded as its first
/// [`Self::KEPT_BYTES`] bytes, a `~` and 40 hex digits of its SHA-256: 80 bytes, one per name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunId(String);

impl RunId {
    /// The longest execution name Step Functions allows, in characters.
    pub const MAX_CHARS: usize = 80;
    /// The run_id columns' VARCHAR(80), in bytes.
    pub const MAX_BYTES: usize = 80;
    /// What a longer name keeps of itself before its digest.
    pub const KEPT_BYTES: usize = 39;

    pub fn from_execution(execution: &str) -> Result<Self, String> {
        let name = if execution.starts_with("arn:") {
            execution.rsplit(':').next().unwrap_or_default()
        } else {
            execution
        };
        let chars = name.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS {
            return Err(format!(
                "an execution name must be 1 to {} characters, got {chars} in {execution:?}",
                Self::MAX_CHARS
            ));
        }
        if let Some(bad) = name.chars().find(|c| c.is_control() || *c == '\\') {
            return Err(format!("execution name {name:?} holds {bad:?}"));
        }
        if name.len() <= Self::MAX_BYTES {
            return Ok(Self(name.to_owned()));
        }
        use sha2::{Digest, Sha256};
        let mut kept = Self::KEPT_BYTES;
        while !name.is_char_boundary(kept) {
            kept -= 1;
        }
        let digest: String = Sha256::digest(name.as_bytes())
            .iter()
            .take(20)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Ok(Self(format!("{}~{digest}", &name[..kept])))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A UTC time as Step Functions gives it (`$$.Execution.StartTime`, RFC 3339 with a `Z` or
/// `+00:00`), kept as `YYYY-MM-DD HH:MM:SS[.fff]` for SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp(String);

impl Timestamp {
    pub fn parse_utc(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a UTC time like 2026-11-22T18:00:00.123Z");
        let body = text
            .strip_suffix('Z')
            .or_else(|| text.strip_suffix("+00:00"))
            .ok_or_else(bad)?;
        let (seconds, fraction) = body.split_once('.').unwrap_or((body, ""));
        let shape = "dddd-dd-ddTdd:dd:dd";
        let fits = seconds.len() == shape.len()
            && seconds.bytes().zip(shape.bytes()).all(|(c, s)| match s {
                b'd' => c.is_ascii_digit(),
                _ => c == s,
            })
            && fraction.len() <= 9
            && fraction.bytes().all(|c| c.is_ascii_digit());
        if !fits {
            return Err(bad());
        }
        let mut out = seconds.replace('T', " ");
        if !fraction.is_empty() {
            out.push('.');
            // Redshift keeps microseconds.
            out.push_str(&fraction[..fraction.len().min(6)]);
        }
        Ok(Self(out))
    }

    /// A time as the warehouse prints a TIMESTAMP, `YYYY-MM-DD HH:MI:SS[.ffffff]` (UTC).
    pub fn parse_warehouse(text: &str) -> Result<Self, String> {
        Self::parse_utc(&format!("{}Z", text.replacen(' ', "T", 1)))
    }

    /// Milliseconds since the epoch, finer fractions dropped; None for a date that does not exist.
    pub fn epoch_millis(&self) -> Option<i64> {
        let rfc3339 = format!("{}Z", self.0.replacen(' ', "T", 1));
        aws_smithy_types::DateTime::from_str(
            &rfc3339,
            aws_smithy_types::date_time::Format::DateTime,
        )
        .ok()
        .and_then(|time| time.to_millis().ok())
    }
}

/// An AWS account id (12 digits): a bucket's expected owner (`ExpectedBucketOwner`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!("{text:?} is not an AWS account id (12 digits)"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An S3 bucket name, as S3's naming rules allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketName(String);

impl BucketName {
    pub fn parse(text: &str) -> Result<Self, String> {
        let valid_chars = text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        let alnum_ends =
            text.bytes()
                .next()
                .zip(text.bytes().last())
                .is_some_and(|(first, last)| {
                    first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric()
                });
        if (3..=63).contains(&text.len()) && valid_chars && alnum_ends {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "{text:?} is not a valid bucket name (3-63 of a-z, 0-9, '.', '-')"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An S3 object key or key prefix that can be quoted into SQL: 1 to 1024 bytes, no control
/// characters and no backslash (whose meaning inside a Redshift literal would change the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Key(String);

impl S3Key {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() || text.len() > 1024 {
            return Err(format!(
                "an S3 key must be 1 to 1024 bytes, got {}",
                text.len()
            ));
        }
        if let Some(bad) = text.chars().find(|c| c.is_control() || *c == '\\') {
            return Err(format!(
                "{text:?} holds {bad:?}, which is not allowed in a key loaded by COPY"
            ));
        }
        // "Trailing spaces in VARCHAR and CHAR values are treated as semantically insignificant
        // when values are compared" (Redshift, "Character types"): the ledger, the listing and
        // the event store compare keys, so 'a.json ' would be taken for 'a.json'.
        if text.ends_with(' ') {
            return Err(format!(
                "{text:?} ends in a space, which Redshift ignores when it compares text, so it \
                 could not be told from the key without it"
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a log object is compressed, told by the end of its key as COPY needs it told ("Specify the
/// GZIP, LZOP, BZIP2, or ZSTD option": Redshift's "Compressing your data files"; COPY detects
/// compression by extension only for Parquet and ORC). The product loads the three codecs the
/// stand-in reads: GZIP (what Amazon Data Firehose writes to S3), BZIP2 and ZSTD. LZOP is left out
/// (`.lzo` loads as plain JSON and fails), as nothing the product knows writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Plain,
    Gzip,
    Bzip2,
    Zstd,
}

impl Codec {
    /// The codec of `key`: `.gz` GZIP, `.bz2` BZIP2, `.zst` ZSTD (any case), else plain.
    pub fn of(key: &S3Key) -> Self {
        let name = key.0.rsplit('/').next().unwrap_or_default();
        let extension = name
            .rsplit_once('.')
            .map(|(_, extension)| extension.to_ascii_lowercase());
        match extension.as_deref() {
            Some("gz") => Self::Gzip,
            Some("bz2") => Self::Bzip2,
            Some("zst") => Self::Zstd,
            _ => Self::Plain,
        }
    }

    /// COPY's keyword for it; empty for plain.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Plain => "",
            Self::Gzip => "GZIP",
            Self::Bzip2 => "BZIP2",
            Self::Zstd => "ZSTD",
        }
    }
}

/// An IAM role ARN for COPY's IAM_ROLE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamRoleArn(String);

impl IamRoleArn {
    pub fn parse(text: &str) -> Result<Self, String> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-/:".contains(c);
        if text.starts_with("arn:") && text.contains(":role/") && text.chars().all(allowed) {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!("{text:?} is not an IAM role ARN"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A database role a superuser created for people who read the tables (`READER_ROLE`,
/// `OPERATOR_ROLE`): lower case letters, digits and underscores, at most 127 bytes (Names and
/// identifiers), as Redshift folds a role's name; it goes into SQL quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbRole(String);

impl DbRole {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut bytes = text.bytes();
        let first = bytes.next();
        if matches!(first, Some(b'a'..=b'z' | b'_'))
            && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && text.len() <= 127
        {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "{text:?} is not a database role name (lower case letters, digits and _, not starting with a digit, at most 127)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An AWS region name such as `us-west-2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region(String);

impl Region {
    pub fn parse(text: &str) -> Result<Self, String> {
        let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
        if (1..=32).contains(&text.len()) && text.bytes().all(allowed) {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!("{text:?} is not a region name"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for S3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: SqlFile = SqlFile {
        path: "test.sql",
        text: "COPY t FROM {{source}} REGION {{ region }};",
    };

    fn bucket() -> BucketName {
        BucketName::parse("udacity-dend").unwrap()
    }

    #[test]
    fn step_functions_times_become_sql_timestamps_and_nothing_else_does() {
        let at = Timestamp::parse_utc("2026-11-22T18:00:00.123Z").unwrap();
        assert_eq!(
            Literal::timestamp(&at).as_sql(),
            "CAST('2026-11-22 18:00:00.123' AS TIMESTAMP)"
        );
        let plain = Timestamp::parse_utc("2026-11-22T18:00:00+00:00").unwrap();
        assert_eq!(
            Literal::timestamp(&plain).as_sql(),
            "CAST('2026-11-22 18:00:00' AS TIMESTAMP)"
        );
        let nanos = Timestamp::parse_utc("2026-11-22T18:00:00.123456789Z").unwrap();
        assert!(Literal::timestamp(&nanos).as_sql().contains(":00.123456'"));
        for bad in [
            "2026-11-22T18:00:00",
            "2026-11-22T18:00:00+01:00",
            "2026-11-22 18:00:00Z",
            "2026-11-22T18:00:00.1x3Z",
            "2026-11-22T18:00:00'); DROP TABLE users; --Z",
            "",
        ] {
            assert!(Timestamp::parse_utc(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn outside_text_is_quoted_cleaned_and_cut_on_a_character_boundary() {
        let error = "ERROR: Load into table 'events_load' failed.\n\\N é";
        assert_eq!(
            Literal::text(error, 1024).as_sql(),
            "'ERROR: Load into table ''events_load'' failed. /N é'"
        );
        // "é" is two bytes: a cut inside it keeps the character out.
        assert_eq!(Literal::text("abé", 3).as_sql(), "'ab'");
        assert_eq!(Literal::text("abé", 4).as_sql(), "'abé'");
    }

    #[test]
    fn a_list_of_runs_is_quoted_literals_and_an_empty_one_is_none() {
        let runs = ["nightly-1", "it's-2"].map(|r| RunId::from_execution(r).unwrap());
        assert_eq!(
            Literal::runs(&runs).unwrap().as_sql(),
            "'nightly-1', 'it''s-2'"
        );
        assert_eq!(Literal::runs(&[]), None);
    }

    #[test]
    fn render_fills_placeholders_with_quoted_literals() {
        let key = S3Key::parse("log_data/it's here.json").unwrap();
        let sql = render(
            &TEMPLATE,
            &[
                ("source", Literal::s3_uri(&bucket(), &key)),
                (
                    "region",
                    Literal::region(&Region::parse("us-west-2").unwrap()),
                ),
            ],
        )
        .unwrap();
        assert_eq!(
            sql,
            "COPY t FROM 's3://udacity-dend/log_data/it''s here.json' REGION 'us-west-2';"
        );
    }

    #[test]
    fn a_key_full_of_sql_stays_inside_one_literal() {
        let key = S3Key::parse("log_data/x'; DROP TABLE users; --.json").unwrap();
        let literal = Literal::s3_uri(&bucket(), &key);
        assert_eq!(
            literal.as_sql(),
            "'s3://udacity-dend/log_data/x''; DROP TABLE users; --.json'"
        );
        // Inside the outer quotes every quote is doubled, so the literal never closes early.
        let inner = &literal.as_sql()[1..literal.as_sql().len() - 1];
        assert!(inner.replace("''", "").find('\'').is_none());
    }

    #[test]
    fn render_rejects_missing_and_unused_values() {
        let region = || ("region", Literal::count(1));
        let missing = render(&TEMPLATE, &[region()]).unwrap_err();
        assert!(
            missing.to_string().contains("no value for {{source}}"),
            "{missing}"
        );
        let extra = render(
            &TEMPLATE,
            &[
                ("source", Literal::count(1)),
                region(),
                ("other", Literal::count(2)),
            ],
        )
        .unwrap_err();
        assert!(
            extra.to_string().contains("\"other\" fills no placeholder"),
            "{extra}"
        );
    }

    #[test]
    fn vetting_rejects_what_cannot_be_quoted_safely() {
        assert!(S3Key::parse("a\\b").is_err());
        assert!(S3Key::parse("a\nb").is_err());
        assert!(S3Key::parse("").is_err());
        assert!(S3Key::parse(&"k".repeat(1025)).is_err());
        assert!(S3Key::parse("log_data/2018/11/ünïcode ;'\".json").is_ok());
        // Redshift would take it for the key without its trailing blank.
        assert!(S3Key::parse("log_data/a.json ").is_err());
        assert!(S3Key::parse("log_data/a b.json").is_ok());
        assert!(BucketName::parse("ab").is_err());
        assert!(BucketName::parse("-bucket").is_err());
        assert!(BucketName::parse("my.bucket-1").is_ok());
        assert!(IamRoleArn::parse("arn:aws:iam::123456789012:role/copy").is_ok());
        assert!(IamRoleArn::parse("arn:aws:iam::123456789012:user/copy").is_err());
        assert!(Region::parse("eu-central-1").is_ok());
        assert!(Region::parse("EU").is_err());
    }

    #[test]
    fn a_key_range_holds_every_key_under_its_prefix_and_no_other() {
        let range = |prefix: &str| {
            let (from, to) = Literal::key_range(&S3Key::parse(prefix).unwrap());
            (from.0, to.0)
        };
        assert_eq!(
            range("log_data/"),
            ("'log_data/'".into(), "'log_data0'".into())
        );
        assert_eq!(range("it's"), ("'it''s'".into(), "'it''t'".into()));
        // The next character skips the surrogates; a last U+10FFFF is dropped.
        assert_eq!(
            range("a\u{D7FF}"),
            ("'a\u{D7FF}'".into(), "'a\u{E000}'".into())
        );
        assert_eq!(range("a\u{10FFFF}"), ("'a\u{10FFFF}'".into(), "'b'".into()));
        // Never a backslash (an escape to Redshift) or a control character in the literal.
        assert_eq!(range("logs["), ("'logs['".into(), "'logs]'".into()));
        assert_eq!(range("logs~"), ("'logs~'".into(), "'logs\u{A0}'".into()));
        let (_, to) = range("\u{10FFFF}");
        assert_eq!(to.chars().filter(|c| *c == char::MAX).count(), 1025);
        // As Redshift orders VARCHARs (code points, the order of their UTF-8 bytes), every key
        // with the prefix is inside, and the keys beside it are not.
        let inside = |prefix: &str, key: &str| {
            let (from, to) = range(prefix);
            let unquote = |s: String| s[1..s.len() - 1].replace("''", "'");
            let (from, to) = (unquote(from), unquote(to));
            from.as_str() <= key && key < to.as_str()
        };
        for key in [
            "log_data/",
            "log_data/2018/11/a.json",
            "log_data/\u{10FFFF}\u{10FFFF}",
        ] {
            assert!(inside("log_data/", key), "{key}");
        }
        for key in [
            "log_data",
            "log_data0",
            "log_data.json",
            "log_datb",
            "song_data/a.json",
        ] {
            assert!(!inside("log_data/", key), "{key}");
        }
    }

    #[test]
    fn every_catalogue_file_has_only_the_placeholders_its_step_fills() {
        // The round's and the quarantine's templates are filled by copy-staging, the clean-up and
        // the grants by create-tables and the load-error and ledger queries by verify-counts (their
        // tests render them); every other file has at most {{run}} and the log keys' range,
        // which render_for_run fills.
        let filled_by_their_step = [
            catalogue::RECORD_LISTING[1],
            catalogue::RECORD_LISTING[2],
            catalogue::HAND_OVER[2],
            catalogue::PLAN[0],
            catalogue::PLAN[1],
            catalogue::PLAN[2],
            catalogue::QUARANTINE[1],
            catalogue::QUARANTINE[2],
            catalogue::COPY_STAGING_FILES,
            catalogue::COPY_STAGING_EVENTS,
            catalogue::EVENTS_LOAD_TAG,
            catalogue::COPY_STAGING_SONGS,
            catalogue::REAP_STAGING[0],
            catalogue::REAP_STAGING[1],
            catalogue::GRANT_ANALYSTS,
            catalogue::GRANT_OPERATORS[0],
            catalogue::GRANT_OPERATORS[1],
            catalogue::VERIFY[3],
            catalogue::REJECTED_OBJECTS,
        ];
        let run = RunId::from_execution("run-1").unwrap();
        for file in catalogue::all() {
            if filled_by_their_step.contains(&file) {
                continue;
            }
            let rendered =
                render_for_run(&[file], &run, &S3Key::parse("log_data/").unwrap()).unwrap();
            assert!(!rendered[0].contains("{{"), "sql/{}", file.path);
            assert_eq!(
                file.text.contains("{{run}}"),
                rendered[0].contains("'run-1'"),
                "sql/{}",
                file.path
            );
        }
    }

    /// The tables a LOCK file names, in its order; None for any other file.
    fn locked(file: &SqlFile) -> Option<Vec<String>> {
        let sql: String = file
            .text
            .lines()
            .filter(|line| !line.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join(" ");
        let tables = sql.trim().strip_prefix("LOCK ")?;
        Some(
            tables
                .trim_end_matches(';')
                .split(',')
                .map(|t| t.trim().to_owned())
                .collect(),
        )
    }

    /// The pipeline table a file writes (INSERT INTO, DELETE FROM, UPDATE, COPY), if any.
    fn written(file: &SqlFile) -> Option<&'static str> {
        let text = file.text;
        catalogue::LOCK_ORDER.iter().copied().find(|table| {
            ["INSERT INTO", "DELETE FROM", "UPDATE", "COPY"]
                .iter()
                .any(|verb| {
                    text.contains(&format!("{verb} {table}\n"))
                        || text.contains(&format!("{verb} {table} "))
                })
        })
    }

    #[test]
    fn every_lock_takes_the_pipelines_tables_in_the_one_order() {
        let locks: Vec<(SqlFile, Vec<String>)> = catalogue::all()
            .into_iter()
            .filter_map(|file| locked(&file).map(|tables| (file, tables)))
            .collect();
        assert!(locks.len() >= 6, "{}", locks.len());
        for (file, tables) in &locks {
            let places: Vec<usize> = tables
                .iter()
                .map(|t| {
                    catalogue::LOCK_ORDER
                        .iter()
                        .position(|known| known == t)
                        .unwrap_or_else(|| panic!("sql/{}: {t} is not in LOCK_ORDER", file.path))
                })
                .collect();
            assert!(
                places.windows(2).all(|w| w[0] < w[1]),
                "sql/{} locks {tables:?} out of the order {:?}",
                file.path,
                catalogue::LOCK_ORDER
            );
        }
    }

    #[test]
    fn every_batch_that_writes_locks_what_it_writes_first() {
        let batches: [(&str, &[SqlFile]); 6] = [
            ("copy-staging's listing", &catalogue::RECORD_LISTING),
            ("copy-staging's hand-over", &catalogue::HAND_OVER),
            ("load-facts", &catalogue::LOAD_FACTS),
            ("load-dimensions", &catalogue::LOAD_DIMENSIONS),
            ("verify-counts", &catalogue::VERIFY),
            ("copy-staging's quarantine", &catalogue::QUARANTINE),
        ];
        let mut reap = vec![catalogue::REAP_LOCK];
        reap.extend(catalogue::REAP_STAGING);
        let mut round = vec![catalogue::LOCK_CATALOGUE, catalogue::COPY_STAGING_FILES];
        round.push(catalogue::COPY_STAGING_SONGS);
        round.extend(catalogue::SONGS_PUBLISH);
        let events_round = [
            catalogue::LOCK_ROUND,
            catalogue::COPY_STAGING_FILES,
            catalogue::EVENTS_STAGE,
        ];
        let all = batches.into_iter().chain([
            ("create-tables' clean-up", reap.as_slice()),
            ("a round of song objects", round.as_slice()),
            ("a round of log objects", events_round.as_slice()),
        ]);
        for (name, files) in all {
            let tables = locked(&files[0]).unwrap_or_else(|| panic!("{name} starts with no LOCK"));
            for file in &files[1..] {
                if let Some(table) = written(file) {
                    assert!(
                        tables.iter().any(|t| t == table),
                        "{name}: sql/{} writes {table}, which its LOCK {tables:?} does not take",
                        file.path
                    );
                }
            }
        }
    }

    #[test]
    fn a_log_objects_codec_is_told_by_the_end_of_its_name() {
        let codec = |key: &str| Codec::of(&S3Key::parse(key).unwrap());
        assert_eq!(codec("log_data/2018-11-01-events.json"), Codec::Plain);
        assert_eq!(codec("log_data/2018-11-01-events.json.gz"), Codec::Gzip);
        assert_eq!(codec("log_data/firehose-1-2018-11-01.GZ"), Codec::Gzip);
        assert_eq!(codec("log_data/2018-11-01.json.bz2"), Codec::Bzip2);
        assert_eq!(codec("log_data/2018-11-01.json.zst"), Codec::Zstd);
        assert_eq!(codec("log_data/2018-11-01.json.lzo"), Codec::Plain);
        assert_eq!(codec("log_data/x.gz/plain"), Codec::Plain);
        assert_eq!(Literal::compression(Codec::Gzip).as_sql(), "GZIP");
        assert_eq!(Literal::compression(Codec::Plain).as_sql(), "");
    }

    #[test]
    fn run_ids_are_execution_names() {
        let arn = "arn:aws:states:us-west-2:123456789012:execution:sparkify-etl:nightly-2018-12-01";
        assert_eq!(
            RunId::from_execution(arn).unwrap().as_str(),
            "nightly-2018-12-01"
        );
        assert_eq!(
            RunId::from_execution("manual-1").unwrap().as_str(),
            "manual-1"
        );
        assert!(RunId::from_execution("").is_err());
        assert!(RunId::from_execution(&"x".repeat(81)).is_err());
        // 80 characters but 160 bytes: a run id of at most 80 bytes, its own, the same each time.
        let long = "\u{e9}".repeat(80);
        let run = RunId::from_execution(&long).unwrap();
        assert!(
            run.as_str().len() <= RunId::MAX_BYTES,
            "{}",
            run.as_str().len()
        );
        assert!(
            run.as_str().starts_with(&"\u{e9}".repeat(19)),
            "{}",
            run.as_str()
        );
        assert_eq!(run, RunId::from_execution(&long).unwrap());
        let other = format!("{}x", "\u{e9}".repeat(79));
        assert_ne!(run, RunId::from_execution(&other).unwrap());
        let fits = "\u{e9}".repeat(40);
        assert_eq!(RunId::from_execution(&fits).unwrap().as_str(), fits);
        assert!(RunId::from_execution("a\\b").is_err());
        let quoted = Literal::run(&RunId::from_execution("it's").unwrap());
        assert_eq!(quoted.as_sql(), "'it''s'");
    }
}
