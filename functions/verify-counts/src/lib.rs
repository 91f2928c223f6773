//! verify-counts: counts every table and runs the data-quality checks (`sql/verify/`), reports what
//! the run's loads refused and the plays still waiting for their song, returns all of it as JSON,
//! and fails the run with `DataQualityFailed` naming each failed check. The same batch ends the
//! run's staging: its staged-object list and its listing are removed (its lines stay, published,
//! in the event store).

use aws_sdk_redshiftdata::types::Field;
use serde::{Deserialize, Serialize};
use sparkify::config::DataSource;
use sparkify::data_api::Progress;
use sparkify::metrics::{Metrics, Name};
use sparkify::sql::{Literal, RunId, S3Key, SqlFile, Timestamp, catalogue, render, render_named};
use sparkify::step::advance;
use sparkify::trigger::Trigger;
use sparkify::{DataApi, Deps, EtlError, StepInput, StepOutput};
use std::collections::{BTreeSet, HashSet};
use tokio::time::Instant;

pub const STEP: &str = "verify-counts";

/// The most rejects a report lists; `rejected_rows` still counts them all.
pub const MAX_REJECTS: usize = 100;

/// When the input gives no start time (a hand invocation), load errors are read from this time on.
const SINCE_EVER: &str = "1970-01-01T00:00:00Z";

/// The most bytes of key literals the ledger question names: with the rest of its text, the one
/// statement (and so its batch) stays well under the Data API's 100 KB of SQL.
const MAX_KEY_BYTES: usize = 90_000;

/// The batch that asks the ledger which objects of the load errors the run loaded; its client
/// token is also derived from the question's text.
const REJECTED_OBJECTS_BATCH: &str = "verify-counts/rejected-objects";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Input {
    #[serde(flatten)]
    pub step: StepInput,
    /// This execution's start time (`$$.Execution.StartTime`): only load errors recorded since
    /// then can be this run's. Absent when invoked by hand: every recorded load error of the
    /// run's objects is reported.
    #[serde(default)]
    pub started: Option<String>,
    /// The execution input (`$.trigger`): a run of new log files checks what it wrote
    /// (`verify/quality_checks_run.sql`), any other run whole tables. Absent when invoked by
    /// hand: whole tables.
    #[serde(default)]
    pub trigger: Option<serde_json::Value>,
    /// When each earlier step was done (`$.steps.<step>.finished_at`): the run's step seconds.
    /// Absent when invoked by hand.
    #[serde(default)]
    pub finished: Finished,
}

/// When the steps before verify-counts were done (RFC 3339, UTC), as the state machine hands
/// them on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Finished {
    pub create_tables: Option<String>,
    pub copy_staging: Option<String>,
    pub load_facts: Option<String>,
    pub load_dimensions: Option<String>,
}

/// The times a run's metrics are measured by, in milliseconds since the epoch: now (its
/// verification), its start, and when each earlier step was done (in the run's order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    pub now: i64,
    pub started: Option<i64>,
    pub finished: [Option<i64>; 4],
}

impl Clock {
    pub fn of(input: &Input, now: i64) -> Self {
        let at = |text: &Option<String>| text.as_deref().and_then(epoch_millis);
        let f = &input.finished;
        Self {
            now,
            started: at(&input.started),
            finished: [
                at(&f.create_tables),
                at(&f.copy_staging),
                at(&f.load_facts),
                at(&f.load_dimensions),
            ],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    #[serde(flatten)]
    pub step: StepOutput,
    /// Present once the queries have finished (null while they run).
    pub report: Option<Report>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Rows per table, in load order: every table of the pipeline, or for a run of new log files
    /// the tables it writes (`verify/table_counts_run.sql`: not the catalogue's, which it leaves
    /// as it was).
    pub counts: Vec<TableCount>,
    pub checks: Vec<CheckResult>,
    /// True when every check passed.
    pub passed: bool,
    /// What this run's loads refused, by file (at most [`MAX_REJECTS`] entries): the records COPY
    /// rejected, one per line, and the staged events the transforms could not use, per reason.
    pub rejects: Vec<Reject>,
    /// Every refused record, including those past the listed ones.
    pub rejected_rows: i64,
    /// Load errors recorded since the run started whose objects the ledger was not asked about,
    /// so that they may be this run's or an overlapping one's: neither listed nor in
    /// `rejected_rows`. 0 unless they name more objects than one question holds (about 2,000),
    /// the question lost a serialization conflict, or an object's key is too long for the
    /// view's 256-byte file name (which then names no key).
    #[serde(default)]
    pub unattributed_rows: i64,
    /// Plays waiting for their song: published NextSong events that match no catalogue song yet
    /// (one per natural key). They become songplays when a song round adds their song.
    #[serde(default)]
    pub waiting_plays: i64,
    /// The start time of the oldest of them (`YYYY-MM-DD HH:MI:SS[.ffffff]`, UTC); null when none
    /// wait.
    #[serde(default)]
    pub oldest_waiting: Option<String>,
    /// Whose lines `waiting_plays` counts: the whole event store's, or for a run of new log files
    /// its own lines' (`verify/waiting_plays_run.sql`), whether or not others had them waiting.
    #[serde(default)]
    pub waiting_among: Among,
    /// Songs the catalogue holds that the songs table refuses (no title, no artist id): how many,
    /// and the first of them (`verify/refused_songs.sql`). They stay out of songs until their
    /// object is fixed. Null for a run of new log files, which loads no song and leaves the
    /// catalogue to the runs that load songs.
    #[serde(default)]
    pub refused_songs: Option<i64>,
    #[serde(default)]
    pub refused_song_ids: Vec<RefusedSong>,
    /// The start time of the newest play in songplays (`verify/freshness.sql`; the format of
    /// `oldest_waiting`); null when there is none.
    #[serde(default)]
    pub newest_play: Option<String>,
}

/// Whose lines a report's waiting plays are among.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Among {
    /// Every published line of the event store.
    #[default]
    Warehouse,
    /// The lines the run staged.
    Run,
}

/// A song the songs table refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedSong {
    pub song_id: String,
    pub column: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCount {
    pub table: String,
    pub rows: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub check: String,
    pub failing_rows: i64,
    pub passed: bool,
}

/// Records of one file that were not loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    /// `s3://bucket/key`, as COPY names the object.
    pub file: String,
    /// The line COPY rejected; null for staged events the transforms refused (staging keeps no
    /// line numbers; `rows` says how many).
    pub line: Option<i64>,
    pub column: String,
    /// Redshift's load error code (`SYS_LOAD_ERROR_DETAIL.error_code`); null for a refusal.
    pub code: Option<i64>,
    pub reason: String,
    pub rows: i64,
}

/// The function's name: its package's, the Handler the template gives it (`functions/bootstrap`).
pub const NAME: &str = env!("CARGO_PKG_NAME");

/// The Lambda: [`handle`] on the Lambda Runtime API (`sparkify::lambda::serve`), run by this
/// crate's binary (`cargo lambda watch`) and by the stack's one bootstrap (`functions/bootstrap`).
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    sparkify::lambda::serve(handle).await
}

pub async fn handle(deps: &Deps, input: Input) -> Result<Output, EtlError> {
    // The call follows its statements for one statement wait in all, whichever it waits on.
    let deadline = deps.data_api.deadline();
    let scope = Scope::of(&input, &deps.config.source)?;
    let step = advance(&deps.data_api, STEP, &input.step, || {
        batch(&input, scope, &deps.config.source)
    })
    .await?;
    if !step.done {
        return Ok(Output { step, report: None });
    }
    // A batch's results are read per sub-statement, `<id>:N`, N the file's place in the batch.
    let files = scope.files();
    let place = |path: &str| files.iter().position(|(stands_for, _)| *stands_for == path);
    let result = |path: &str| {
        let n = place(path).expect("a file of the verify batch") + 1;
        format!("{}:{n}", step.statement_id)
    };
    let api = &deps.data_api;
    let counts = named_numbers(api, &result("verify/table_counts.sql")).await?;
    let checks = named_numbers(api, &result("verify/quality_checks.sql")).await?;
    let load_errors = api.result_rows(&result("verify/load_errors.sql")).await?;
    let refused = api
        .result_rows(&result("verify/refused_events.sql"))
        .await?;
    let (waiting_plays, oldest_waiting) =
        waiting(&api.result_rows(&result("verify/waiting_plays.sql")).await?)?;
    let (refused_songs, refused_song_ids) = match place("verify/refused_songs.sql") {
        Some(_) => {
            let rows = api.result_rows(&result("verify/refused_songs.sql")).await?;
            let (count, songs) = refused_songs(&rows)?;
            (Some(count), songs)
        }
        None => (None, Vec::new()),
    };
    let newest_play = newest_play(&api.result_rows(&result("verify/freshness.sql")).await?)?;
    let bucket_uri = format!("s3://{}/", deps.config.source.bucket.as_str());
    // The load errors since the run started may be another execution's too: the ledger says
    // which of their objects this run loaded. Asked only when there are any, about those objects
    // alone, so what is read is bounded by the load errors and not by what the run staged.
    let attributed = if load_errors.is_empty() {
        Attribution::default()
    } else {
        match loaded_by_run(api, &input.step, &bucket_uri, &load_errors, deadline).await? {
            Attributed::Known(attribution) => attribution,
            Attributed::Running(status) => {
                tracing::info!(step = STEP, status = %status, "waiting for the ledger's answer");
                let step = StepOutput {
                    status,
                    done: false,
                    rows_affected: Vec::new(),
                    ..step
                };
                return Ok(Output { step, report: None });
            }
        }
    };
    let (all_rejects, unattributed_rows) =
        rejects(&bucket_uri, &load_errors, &attributed, &refused)?;
    let report = Report {
        counts: counts
            .into_iter()
            .map(|(table, rows)| TableCount { table, rows })
            .collect(),
        passed: checks.iter().all(|(_, failing)| *failing == 0),
        checks: checks
            .into_iter()
            .map(|(check, failing_rows)| CheckResult {
                check,
                failing_rows,
                passed: failing_rows == 0,
            })
            .collect(),
        rejected_rows: all_rejects.iter().map(|reject| reject.rows).sum(),
        rejects: all_rejects.into_iter().take(MAX_REJECTS).collect(),
        unattributed_rows,
        waiting_plays,
        oldest_waiting,
        waiting_among: scope.waiting_among(),
        refused_songs,
        refused_song_ids,
        newest_play,
    };
    tracing::info!(step = STEP, report = %serde_json::json!(report), "verification finished");
    metrics_of(
        &report,
        &deps.config.pipeline,
        &Clock::of(&input, sparkify::metrics::now_millis()),
    )
    .emit();
    if !report.passed {
        let failed = report
            .checks
            .iter()
            .filter(|check| !check.passed)
            .map(|check| format!("{} ({})", check.check, check.failing_rows))
            .collect();
        return Err(EtlError::DataQualityFailed(failed));
    }
    Ok(Output {
        step,
        report: Some(report),
    })
}

/// What a run verifies: the whole warehouse, or what a run of new log files wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Nightly, backfill, continued and by-hand runs (and a hand invocation without a trigger).
    Warehouse,
    /// A run of new log files: it loads only the log objects its events name (no song object), so
    /// what it verifies follows those files, not the size of the warehouse
    /// (docs/exactly-once.md): its counts are of the tables it writes, its checks over its rows,
    /// its waiting plays among its own lines, and the refused songs, which only a song round
    /// changes, are left to the runs that load songs.
    NewFiles,
}

impl Scope {
    fn of(input: &Input, source: &DataSource) -> Result<Self, EtlError> {
        Ok(match &input.trigger {
            Some(trigger) => match Trigger::from_execution_input(trigger, source)? {
                Trigger::NewLogObjects { .. } => Self::NewFiles,
                _ => Self::Warehouse,
            },
            None => Self::Warehouse,
        })
    }

    fn waiting_among(self) -> Among {
        match self {
            Self::Warehouse => Among::Warehouse,
            Self::NewFiles => Among::Run,
        }
    }

    /// The batch's files, in order, each with the path of the `catalogue::VERIFY` file it
    /// stands for (its own, but for a run of new log files' counts, checks and waiting plays,
    /// which stand in the place of the whole tables'); a run of new log files leaves the refused
    /// songs out.
    fn files(self) -> Vec<(&'static str, &'static SqlFile)> {
        catalogue::VERIFY
            .iter()
            .filter_map(|file| {
                let stands_for = file.path;
                let file = match (self, stands_for) {
                    (Self::NewFiles, "verify/table_counts.sql") => &catalogue::TABLE_COUNTS_RUN,
                    (Self::NewFiles, "verify/quality_checks.sql") => &catalogue::QUALITY_CHECKS_RUN,
                    (Self::NewFiles, "verify/waiting_plays.sql") => &catalogue::WAITING_PLAYS_RUN,
                    (Self::NewFiles, "verify/refused_songs.sql") => return None,
                    _ => file,
                };
                Some((stands_for, file))
            })
            .collect()
    }
}

/// The batch: the files of `scope` ([`Scope::files`]), each given the values it names.
fn batch(input: &Input, scope: Scope, source: &DataSource) -> Result<Vec<String>, EtlError> {
    let run = RunId::from_execution(&input.step.execution).map_err(EtlError::InvalidInput)?;
    let started = Timestamp::parse_utc(input.started.as_deref().unwrap_or(SINCE_EVER))
        .map_err(|why| EtlError::InvalidInput(format!("started: {why}")))?;
    let bucket = &source.bucket;
    scope
        .files()
        .into_iter()
        .map(|(_, file)| {
            let values = [
                ("run", Literal::run(&run)),
                ("started", Literal::timestamp(&started)),
                ("bucket_files", Literal::bucket_files(bucket)),
            ];
            render_named(file, &values)
        })
        .collect()
}

/// What the ledger said about the objects of the load errors.
enum Attributed {
    Known(Attribution),
    /// Its answer is not in yet (the statement's status): the next call asks again.
    Running(String),
}

/// The keys of the load errors' objects this execution loaded, and those the ledger was not asked
/// about.
#[derive(Debug, Default)]
struct Attribution {
    ours: HashSet<String>,
    unasked: HashSet<String>,
}

/// Which objects named by `load_errors` this execution loaded: one statement of
/// `verify/rejected_objects.sql` about as many of them as it holds, under a client token of its
/// own (the step, the attempt and the question), so a later or retried call gets the same
/// statement back; followed until `deadline`.
async fn loaded_by_run(
    api: &DataApi,
    input: &StepInput,
    bucket_uri: &str,
    load_errors: &[Vec<Field>],
    deadline: Instant,
) -> Result<Attributed, EtlError> {
    let run = RunId::from_execution(&input.execution).map_err(EtlError::InvalidInput)?;
    let keys = error_objects(bucket_uri, load_errors);
    let Some((sql, asked)) = ledger_question(&run, &keys)? else {
        return Ok(Attributed::Known(Attribution::default()));
    };
    let unasked = key_set(&keys[asked..]);
    if !unasked.is_empty() {
        tracing::warn!(
            step = STEP,
            asked,
            unasked = unasked.len(),
            "the load errors name more objects than one question holds"
        );
    }
    let token = input.client_token(&format!("{REJECTED_OBJECTS_BATCH}\n{sql}"));
    let id = api
        .submit(
            vec![sql],
            &token,
            &format!("sparkify-{STEP}-rejected-objects"),
        )
        .await?;
    tracing::info!(step = STEP, statement_id = %id, asked, "asked the ledger about the load errors' objects");
    // Asked at least once: the question is short, and may be answered already.
    match api.settle(&id, deadline, false).await {
        Ok(Progress::Running { status }) => Ok(Attributed::Running(status)),
        Ok(Progress::Finished { .. }) => {
            let mut ours = HashSet::new();
            for row in api.result_rows(&format!("{id}:1")).await? {
                match row.as_slice() {
                    [Field::StringValue(key)] => ours.insert(key.clone()),
                    _ => {
                        return Err(EtlError::DataApiRejected(format!(
                            "rejected objects: unexpected row {row:?}"
                        )));
                    }
                };
            }
            Ok(Attributed::Known(Attribution { ours, unasked }))
        }
        // The verify batch has committed, so the state machine must not submit it again (which
        // it does for this error): the report says these load errors were not attributed.
        Err(EtlError::SerializationConflict { error, .. }) => {
            tracing::warn!(step = STEP, statement_id = %id, error = %error, "the ledger question lost a serialization conflict");
            Ok(Attributed::Known(Attribution {
                ours: HashSet::new(),
                unasked: key_set(&keys),
            }))
        }
        Err(err) => Err(err),
    }
}

/// The bytes of `SYS_LOAD_ERROR_DETAIL.file_name` (and `STL_LOAD_ERRORS.filename`):
/// character(256). A key may have 1,024 bytes, so the name of a long key's object is cut.
pub const FILE_NAME_BYTES: usize = 256;

/// Whether a load error's file name fills its column, so that it may be a longer name cut short:
/// its object cannot be told from its name, and its errors are counted as not attributed rather
/// than dropped (a cut name matches no key the ledger holds).
fn is_cut(file: &str) -> bool {
    file.len() >= FILE_NAME_BYTES
}

/// The keys of the data bucket's objects the load errors name, each once and in order. A file
/// that is not a key copy-staging could have loaded is not this run's; a cut name is not asked
/// about ([`is_cut`]).
fn error_objects(bucket_uri: &str, load_errors: &[Vec<Field>]) -> Vec<S3Key> {
    let keys: BTreeSet<&str> = load_errors
        .iter()
        .filter_map(|row| match row.first() {
            Some(Field::StringValue(file)) if !is_cut(file) => file.strip_prefix(bucket_uri),
            _ => None,
        })
        .collect();
    keys.into_iter()
        .filter_map(|key| S3Key::parse(key).ok())
        .collect()
}

fn key_set(keys: &[S3Key]) -> HashSet<String> {
    keys.iter().map(|key| key.as_str().to_owned()).collect()
}

/// `verify/rejected_objects.sql` about the first of `keys` whose literals fit in
/// [`MAX_KEY_BYTES`], and how many that is; None for no keys.
fn ledger_question(run: &RunId, keys: &[S3Key]) -> Result<Option<(String, usize)>, EtlError> {
    let mut bytes = 0;
    let asked = keys
        .iter()
        .take_while(|key| {
            // The literal with its quotes, a doubled quote per quote, and its separator.
            bytes += key.as_str().len() + key.as_str().matches('\'').count() + 4;
            bytes <= MAX_KEY_BYTES
        })
        .count();
    let Some(literal) = Literal::keys(&keys[..asked]) else {
        return Ok(None);
    };
    let sql = render(
        &catalogue::REJECTED_OBJECTS,
        &[("run", Literal::run(run)), ("keys", literal)],
    )?;
    Ok(Some((sql, asked)))
}

/// This run's rejects: the load errors of the objects it loaded, then the refused events, each
/// group by file and line as the queries order them; and how many load errors are of objects the
/// ledger was not asked about.
fn rejects(
    bucket_uri: &str,
    load_errors: &[Vec<Field>],
    attributed: &Attribution,
    refused: &[Vec<Field>],
) -> Result<(Vec<Reject>, i64), EtlError> {
    let unexpected = |what: &str, row: &[Field]| {
        EtlError::DataApiRejected(format!("{what}: unexpected row {row:?}"))
    };
    let mut out = Vec::new();
    let mut unattributed = 0;
    for row in load_errors {
        let [file, line, column, code, reason] = row.as_slice() else {
            return Err(unexpected("load errors", row));
        };
        let file = text(file).ok_or_else(|| unexpected("load errors", row))?;
        let key = file.strip_prefix(bucket_uri).unwrap_or_default();
        if attributed.unasked.contains(key) || (is_cut(&file) && !attributed.ours.contains(key)) {
            unattributed += 1;
        } else if attributed.ours.contains(key) {
            out.push(Reject {
                file,
                line: number(line),
                column: text(column).unwrap_or_default(),
                code: number(code),
                reason: text(reason).unwrap_or_default(),
                rows: 1,
            });
        }
    }
    for row in refused {
        let [key, column, reason, rows] = row.as_slice() else {
            return Err(unexpected("refused events", row));
        };
        let (Some(key), Some(rows)) = (text(key), number(rows)) else {
            return Err(unexpected("refused events", row));
        };
        out.push(Reject {
            file: format!("{bucket_uri}{key}"),
            line: None,
            column: text(column).unwrap_or_default(),
            code: None,
            reason: text(reason).unwrap_or_default(),
            rows,
        });
    }
    Ok((out, unattributed))
}

/// `(how many, the first)` of `verify/refused_songs.sql`: each row a song with the count of all.
fn refused_songs(rows: &[Vec<Field>]) -> Result<(i64, Vec<RefusedSong>), EtlError> {
    let mut total = 0;
    let mut songs = Vec::with_capacity(rows.len());
    for row in rows {
        let [song_id, column, reason, refused] = row.as_slice() else {
            return Err(EtlError::DataApiRejected(format!(
                "refused songs: unexpected row {row:?}"
            )));
        };
        let (Some(song_id), Some(refused)) = (text(song_id), number(refused)) else {
            return Err(EtlError::DataApiRejected(format!(
                "refused songs: unexpected row {row:?}"
            )));
        };
        total = refused;
        songs.push(RefusedSong {
            song_id,
            column: text(column).unwrap_or_default(),
            reason: text(reason).unwrap_or_default(),
        });
    }
    Ok((total, songs))
}

/// The newest play's start time of `verify/freshness.sql`: one row, null when there is none.
fn newest_play(rows: &[Vec<Field>]) -> Result<Option<String>, EtlError> {
    match rows {
        [row] if row.len() == 1 => Ok(text(&row[0])),
        _ => Err(EtlError::DataApiRejected(format!(
            "freshness: {rows:?} where one row of one column is expected"
        ))),
    }
}

/// `(waiting, oldest)` of `verify/waiting_plays.sql`: one row.
fn waiting(rows: &[Vec<Field>]) -> Result<(i64, Option<String>), EtlError> {
    match rows {
        [row] => match row.as_slice() {
            [count, oldest] => number(count)
                .map(|count| (count, text(oldest)))
                .ok_or_else(|| {
                    EtlError::DataApiRejected(format!("waiting plays: unexpected row {row:?}"))
                }),
            _ => Err(EtlError::DataApiRejected(format!(
                "waiting plays: unexpected row {row:?}"
            ))),
        },
        _ => Err(EtlError::DataApiRejected(format!(
            "waiting plays: {} rows where one is expected",
            rows.len()
        ))),
    }
}

fn text(field: &Field) -> Option<String> {
    match field {
        Field::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn number(field: &Field) -> Option<i64> {
    match field {
        Field::LongValue(n) => Some(*n),
        Field::StringValue(s) => s.parse().ok(),
        _ => None,
    }
}

/// Reads a `(name, number)` result: both verification queries return that shape.
async fn named_numbers(api: &sparkify::DataApi, id: &str) -> Result<Vec<(String, i64)>, EtlError> {
    let unexpected = |row: &[Field]| {
        EtlError::DataApiRejected(format!(
            "GetStatementResult {id}: expected (name, number) rows, got {row:?}"
        ))
    };
    api.result_rows(id)
        .await?
        .iter()
        .map(|row| match row.as_slice() {
            [Field::StringValue(name), Field::LongValue(n)] => Ok((name.clone(), *n)),
            [Field::StringValue(name), Field::StringValue(n)] => n
                .parse()
                .map(|n| (name.clone(), n))
                .map_err(|_| unexpected(row)),
            _ => Err(unexpected(row)),
        })
        .collect()
}

/// The run's metrics ([`sparkify::metrics`]), from its report: the star tables' rows, what the
/// loads refused, the plays waiting for their song and the oldest one's age in hours at `now`
/// (seconds since the epoch; not from a run of new log files, whose report counts its own
/// lines'), the refused songs, the failed checks, the newest play's age in
/// hours (none without plays) and, when the run's start is known, its seconds so far.
pub fn metrics_of(report: &Report, pipeline: &str, clock: &Clock) -> Metrics {
    let mut metrics = Metrics::new(pipeline);
    // The waiting plays' metrics are the whole event store's: a run of new log files counts its
    // own lines' (`waiting_among`), and leaves them out (NaN) rather than mix the two.
    let waiting = |value: f64| match report.waiting_among {
        Among::Warehouse => value,
        Among::Run => f64::NAN,
    };
    for count in &report.counts {
        if let Some(name) = Name::rows_of(&count.table) {
            metrics.put(name, count.rows as f64);
        }
    }
    metrics
        .put(Name::RejectedRecords, report.rejected_rows as f64)
        .put(Name::UnattributedRecords, report.unattributed_rows as f64)
        .put(Name::WaitingPlays, waiting(report.waiting_plays as f64))
        .put(
            Name::RefusedSongs,
            report.refused_songs.map_or(f64::NAN, |n| n as f64),
        )
        .put(
            Name::FailedChecks,
            report.checks.iter().filter(|check| !check.passed).count() as f64,
        );
    let hours_ago = |then: i64| ((clock.now - then).max(0) as f64) / 3_600_000.0;
    let oldest_hours = report
        .oldest_waiting
        .as_deref()
        .and_then(epoch_millis)
        .map_or(0.0, hours_ago);
    metrics.put(Name::OldestWaitingPlayHours, waiting(oldest_hours));
    // Left out (NaN) when unknown: a metric with no value is missing, not zero.
    let newest_hours = report
        .newest_play
        .as_deref()
        .and_then(epoch_millis)
        .map_or(f64::NAN, hours_ago);
    metrics.put(Name::NewestPlayAgeHours, newest_hours);
    let seconds = |from: Option<i64>, to: Option<i64>| match (from, to) {
        (Some(from), Some(to)) => ((to - from).max(0) as f64) / 1000.0,
        _ => f64::NAN,
    };
    metrics.put(Name::RunSeconds, seconds(clock.started, Some(clock.now)));
    // Each step from the end of the one before it (the first from the run's start), so that
    // they add up to the run's seconds.
    let ends = [
        clock.started,
        clock.finished[0],
        clock.finished[1],
        clock.finished[2],
        clock.finished[3],
        Some(clock.now),
    ];
    let steps = [
        Name::CreateTablesSeconds,
        Name::CopyStagingSeconds,
        Name::LoadFactsSeconds,
        Name::LoadDimensionsSeconds,
        Name::VerifyCountsSeconds,
    ];
    for (name, span) in steps.into_iter().zip(ends.windows(2)) {
        metrics.put(name, seconds(span[0], span[1]));
    }
    metrics
}

/// A time as Step Functions or the warehouse writes it, in milliseconds since the epoch.
fn epoch_millis(text: &str) -> Option<i64> {
    Timestamp::parse_utc(text)
        .or_else(|_| Timestamp::parse_warehouse(text))
        .ok()?
        .epoch_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The batch for `input`, in the scope its trigger gives.
    fn batch_for(input: &Input, source: &DataSource) -> Result<Vec<String>, EtlError> {
        batch(input, Scope::of(input, source)?, source)
    }
    use aws_sdk_redshiftdata::Client;
    use aws_sdk_redshiftdata::operation::get_statement_result::GetStatementResultOutput;
    use aws_sdk_redshiftdata::types::{StatementStatusString as Sub, StatusString};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use sparkify::testing::{deps, described, submitted};

    fn resume() -> Input {
        Input {
            step: StepInput {
                execution: "exec-1".into(),
                statement_id: Some("verify-1".into()),
                attempt: 0,
            },
            started: Some("2026-11-22T18:00:00.123Z".into()),
            trigger: None,
            finished: Finished::default(),
        }
    }

    /// [`resume`] of a run that one new log file's event started.
    fn new_file() -> Input {
        let event: serde_json::Value = serde_json::from_str(include_str!(
            "../../../events/triggers/s3-object-created.json"
        ))
        .unwrap();
        Input {
            trigger: Some(event),
            ..resume()
        }
    }

    fn s(text: &str) -> Field {
        Field::StringValue(text.into())
    }

    fn n(value: i64) -> Field {
        Field::LongValue(value)
    }

    fn rows_of(id: &'static str, rows: Vec<Vec<Field>>) -> aws_smithy_mocks::Rule {
        mock!(Client::get_statement_result)
            .match_requests(move |req| req.id() == Some(id))
            .then_output(move || {
                GetStatementResultOutput::builder()
                    .set_records(Some(rows.clone()))
                    .build()
                    .unwrap()
            })
    }

    /// A finished batch: its counts, its checks (`failing_users` failing) and its rejects, with
    /// the ledger's answer about the load errors' objects.
    fn finished_batch(failing_users: i64) -> Vec<aws_smithy_mocks::Rule> {
        [finished(), counts(), checks(failing_users)]
            .into_iter()
            .chain(reject_results())
            .chain(ledger_answer(StatusString::Finished))
            .collect()
    }

    /// The plays waiting for their song: `count` of them, the oldest at 2018-11-01 21:01:46.796.
    fn waiting_result(count: i64) -> aws_smithy_mocks::Rule {
        let oldest = if count == 0 {
            Field::IsNull(true)
        } else {
            s("2018-11-01 21:01:46.796")
        };
        rows_of("verify-1:6", vec![vec![n(count), oldest]])
    }

    /// The reject queries of a run (one load error of each of two of its objects, one of
    /// another execution's object, and one refused user id), its waiting plays (6,487) and one
    /// refused song of two.
    fn reject_results() -> [aws_smithy_mocks::Rule; 5] {
        let error = |file: &str, line: i64| {
            vec![
                s(file),
                n(line),
                s("ts"),
                n(1207),
                s("Invalid digit, Value 'x'"),
            ]
        };
        [
            rows_of(
                "verify-1:4",
                vec![
                    error("s3://udacity-dend/log_data/a.json", 3),
                    error("s3://udacity-dend/log_data/elsewhere.json", 1),
                    error("s3://udacity-dend/log_data/it's; b.json", 9),
                ],
            ),
            rows_of(
                "verify-1:5",
                vec![vec![
                    s("log_data/a.json"),
                    s("user_id"),
                    s("user id is not a whole number of 1 to 9 digits"),
                    n(2),
                ]],
            ),
            waiting_result(6487),
            rows_of(
                "verify-1:7",
                vec![vec![
                    s("SOBADTITLE12AB01"),
                    s("title"),
                    s("song without a title"),
                    n(2),
                ]],
            ),
            rows_of("verify-1:8", vec![vec![s("2018-11-30 23:59:59.796")]]),
        ]
    }

    /// The question to the ledger (submitted as `ledger-1`, `status` when described) and, once
    /// finished, its answer: two of the three objects are this run's.
    fn ledger_answer(status: StatusString) -> [aws_smithy_mocks::Rule; 3] {
        ledger_answers(&[status])
    }

    /// [`ledger_answer`] described as each of `statuses` in turn. The question is one statement
    /// about the three objects, each once, quoted.
    fn ledger_answers(statuses: &[StatusString]) -> [aws_smithy_mocks::Rule; 3] {
        let mut describe = mock!(Client::describe_statement)
            .match_requests(|req| req.id() == Some("ledger-1"))
            .sequence();
        for status in statuses {
            let status = status.clone();
            describe = describe
                .output(move || described("ledger-1", status.clone(), &[(Sub::Finished, 2, None)]));
        }
        [
            mock!(Client::batch_execute_statement)
                .match_requests(|req| {
                    req.sqls().len() == 1
                        && req.sqls()[0].contains(
                            "run_id = 'exec-1' AND object_key IN ('log_data/a.json', \
                             'log_data/elsewhere.json', 'log_data/it''s; b.json')",
                        )
                })
                .then_output(|| submitted("ledger-1")),
            describe.build(),
            rows_of(
                "ledger-1:1",
                vec![vec![s("log_data/a.json")], vec![s("log_data/it's; b.json")]],
            ),
        ]
    }

    /// The report of a call resumed on a finished batch, answered by `rules`.
    fn a_report() -> Report {
        Report {
            counts: [
                "staging_events",
                "songplays",
                "users",
                "songs",
                "artists",
                "time",
            ]
            .iter()
            .zip([9, 5, 3, 4, 3, 5])
            .map(|(table, rows)| TableCount {
                table: (*table).into(),
                rows,
            })
            .collect(),
            checks: vec![
                CheckResult {
                    check: "songs_key_unique".into(),
                    failing_rows: 0,
                    passed: true,
                },
                CheckResult {
                    check: "time_key_unique".into(),
                    failing_rows: 2,
                    passed: false,
                },
            ],
            passed: false,
            rejects: Vec::new(),
            rejected_rows: 7,
            unattributed_rows: 1,
            waiting_plays: 2,
            oldest_waiting: Some("2018-11-30 00:00:00.796".into()),
            waiting_among: Among::Warehouse,
            refused_songs: Some(3),
            refused_song_ids: Vec::new(),
            newest_play: Some("2018-11-29 06:30:00".into()),
        }
    }

    /// A run that started a minute before its verification, its steps done 0.5 s, 30.5 s,
    /// 40.123 s and 50.123 s after its start.
    fn a_clock() -> Clock {
        let at = |text: &str| epoch_millis(text);
        Clock {
            now: at("2018-11-30 06:30:00.123").unwrap(),
            started: at("2018-11-30T06:29:00.123Z"),
            finished: [
                at("2018-11-30T06:29:00.623Z"),
                at("2018-11-30T06:29:30.623Z"),
                at("2018-11-30T06:29:40.246Z"),
                at("2018-11-30T06:29:50.246Z"),
            ],
        }
    }

    #[test]
    fn the_metrics_are_the_reports_figures() {
        let document = metrics_of(&a_report(), "sparkify-prod", &a_clock()).document(0);
        let value = |name: &str| document[name].as_f64();
        assert_eq!(document["Pipeline"], "sparkify-prod");
        assert_eq!(
            [
                "SongplaysRows",
                "UsersRows",
                "SongsRows",
                "ArtistsRows",
                "TimeRows"
            ]
            .map(value),
            [5.0, 3.0, 4.0, 3.0, 5.0].map(Some)
        );
        assert_eq!(
            value("StagingEventsRows"),
            None,
            "staging counts are not metrics"
        );
        assert_eq!(value("RejectedRecords"), Some(7.0));
        assert_eq!(value("UnattributedRecords"), Some(1.0));
        assert_eq!(value("WaitingPlays"), Some(2.0));
        // From 00:00:00.796 to 06:30:00.123, to the millisecond.
        assert_eq!(
            value("OldestWaitingPlayHours"),
            Some((6.5 * 3_600_000.0 - 673.0) / 3_600_000.0)
        );
        assert_eq!(value("RefusedSongs"), Some(3.0));
        assert_eq!(value("FailedChecks"), Some(1.0));
        assert_eq!(value("NewestPlayAgeHours"), Some(24.0 + 0.123 / 3600.0));
        assert_eq!(value("RunSeconds"), Some(60.0));
        let steps = [
            "CreateTablesSeconds",
            "CopyStagingSeconds",
            "LoadFactsSeconds",
            "LoadDimensionsSeconds",
            "VerifyCountsSeconds",
        ]
        .map(|name| value(name).unwrap());
        assert_eq!(steps, [0.5, 30.0, 9.623, 10.0, 9.877]);
        assert!((steps.iter().sum::<f64>() - 60.0).abs() < 1e-9);
        let named: Vec<&str> = document["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|metric| metric["Name"].as_str().unwrap())
            .collect();
        // Every metric but the other steps': what they moved (load-facts', load-dimensions' and
        // copy-staging's), and copy-staging's quarantine, missing objects and log age.
        let moved = [
            "events",
            "log objects",
            "songs",
            "song objects",
            "plays",
            "start times",
            "users",
        ]
        .map(|what| Name::moved(what).unwrap());
        let all: Vec<&str> = Name::ALL
            .iter()
            .filter(|name| {
                !moved.contains(name)
                    && ![
                        Name::QuarantinedObjects,
                        Name::MissingObjects,
                        Name::NewestLogObjectAgeHours,
                    ]
                    .contains(name)
            })
            .map(|name| name.as_str())
            .collect();
        assert_eq!(named.len(), all.len());
        assert!(named.iter().all(|name| all.contains(name)));
    }

    #[test]
    fn no_waiting_play_is_an_age_of_zero() {
        let report = Report {
            waiting_plays: 0,
            oldest_waiting: None,
            ..a_report()
        };
        let by_hand = Clock {
            now: 1_000_000,
            ..Clock::default()
        };
        let document = metrics_of(&report, "p", &by_hand).document(0);
        assert_eq!(document["OldestWaitingPlayHours"], 0.0);
        // Unknown figures are missing, not zero: no run start or step ends (a call by hand),
        // no plays.
        for name in ["RunSeconds", "CreateTablesSeconds", "VerifyCountsSeconds"] {
            assert!(document.get(name).is_none(), "{name}");
        }
        let report = Report {
            newest_play: None,
            ..a_report()
        };
        let document = metrics_of(&report, "p", &by_hand).document(0);
        assert!(document.get("NewestPlayAgeHours").is_none());
    }

    #[test]
    fn warehouse_and_step_functions_timestamps_read_as_epoch_milliseconds() {
        assert_eq!(epoch_millis("1970-01-01 00:00:00"), Some(0));
        assert_eq!(epoch_millis("2018-11-30 00:00:00"), Some(1_543_536_000_000));
        assert_eq!(epoch_millis("2000-03-01 01:02:03.5"), Some(951_872_523_500));
        assert_eq!(epoch_millis("2018-13-01 00:00:00"), None);
        assert_eq!(
            epoch_millis("2018-11-30T00:00:01.5Z"),
            Some(1_543_536_001_500)
        );
        assert_eq!(
            epoch_millis("2026-12-06T03:00:00.123456Z"),
            Some(1_796_526_000_123)
        );
        assert_eq!(epoch_millis("yesterday"), None);
    }

    async fn report_of(rules: &[aws_smithy_mocks::Rule]) -> Report {
        let client = mock_client!(aws_sdk_redshiftdata, RuleMode::MatchAny, rules);
        handle(&deps(client), resume())
            .await
            .unwrap()
            .report
            .unwrap()
    }

    fn page(rows: &[(&str, i64)], next_token: Option<&str>) -> GetStatementResultOutput {
        let records = rows
            .iter()
            .map(|(name, n)| vec![Field::StringValue((*name).into()), Field::LongValue(*n)])
            .collect();
        GetStatementResultOutput::builder()
            .set_records(Some(records))
            .set_next_token(next_token.map(str::to_owned))
            .build()
            .unwrap()
    }

    fn finished() -> aws_smithy_mocks::Rule {
        mock!(Client::describe_statement)
            .match_requests(|req| req.id() == Some("verify-1"))
            .then_output(|| {
                described(
                    "verify-1",
                    StatusString::Finished,
                    &[(Sub::Finished, 7, None), (Sub::Finished, 14, None)],
                )
            })
    }

    fn counts() -> aws_smithy_mocks::Rule {
        // Two pages, to prove NextToken is followed.
        mock!(Client::get_statement_result)
            .match_requests(|req| req.id() == Some("verify-1:2"))
            .sequence()
            .output(|| {
                page(
                    &[("staging_events", 8056), ("staging_songs", 14896)],
                    Some("p2"),
                )
            })
            .output(|| page(&[("songplays", 333), ("users", 96)], None))
            .build()
    }

    fn checks(failing_users: i64) -> aws_smithy_mocks::Rule {
        mock!(Client::get_statement_result)
            .match_requests(|req| req.id() == Some("verify-1:3"))
            .then_output(move || {
                page(
                    &[
                        ("songplays_key_unique", 0),
                        ("users_key_unique", failing_users),
                    ],
                    None,
                )
            })
    }

    /// A run of new log files reads its batch by the places of its own files: the counts and
    /// checks where the whole tables' are, no refused songs, and the newest play in the refused
    /// songs' place.
    #[tokio::test]
    async fn a_new_file_runs_report_reads_its_own_batch() {
        let [load_errors, refused_events, waiting, _refused_songs, _] = reject_results();
        let rules: Vec<aws_smithy_mocks::Rule> = [
            finished(),
            counts(),
            checks(0),
            load_errors,
            refused_events,
            waiting,
            rows_of("verify-1:7", vec![vec![s("2018-11-30 23:59:59.796")]]),
        ]
        .into_iter()
        .chain(ledger_answer(StatusString::Finished))
        .collect();
        let client = mock_client!(aws_sdk_redshiftdata, RuleMode::MatchAny, &rules);
        let new_file = new_file();
        let report = handle(&deps(client), new_file)
            .await
            .unwrap()
            .report
            .unwrap();
        assert!(report.passed);
        assert_eq!(report.counts.len(), 4);
        assert_eq!(
            (report.refused_songs, report.refused_song_ids.len()),
            (None, 0)
        );
        assert_eq!(
            report.newest_play.as_deref(),
            Some("2018-11-30 23:59:59.796")
        );
        // Its waiting plays are its own lines' (verify/waiting_plays_run.sql, in the place of
        // verify/waiting_plays.sql: the same result read).
        assert_eq!(
            (report.waiting_plays, report.waiting_among),
            (6487, Among::Run)
        );
        // Its metrics leave the refused songs and the event store's waiting plays out rather
        // than report none, or its own as the warehouse's.
        let metrics = metrics_of(&report, "sparkify", &Clock::default())
            .document(0)
            .to_string();
        for left_out in ["RefusedSongs", "WaitingPlays", "OldestWaitingPlayHours"] {
            assert!(!metrics.contains(&format!("\"{left_out}\":")), "{metrics}");
        }
        assert!(metrics.contains("\"RejectedRecords\":"), "{metrics}");
    }

    #[tokio::test]
    async fn a_finished_run_reports_every_count_and_check() {
        let rules = finished_batch(0);
        let report = report_of(&rules).await;
        assert!(report.passed);
        let counted: Vec<(&str, i64)> = report
            .counts
            .iter()
            .map(|c| (c.table.as_str(), c.rows))
            .collect();
        assert_eq!(
            counted,
            [
                ("staging_events", 8056),
                ("staging_songs", 14896),
                ("songplays", 333),
                ("users", 96)
            ]
        );
        assert_eq!(report.checks.len(), 2);
        // The counts came in two pages: NextToken was followed.
        assert_eq!(rules[1].num_calls(), 2);
        assert_eq!(
            (report.waiting_plays, report.oldest_waiting.as_deref()),
            (6487, Some("2018-11-01 21:01:46.796"))
        );
        assert_eq!(report.refused_songs, Some(2));
        assert_eq!(
            report.refused_song_ids,
            [RefusedSong {
                song_id: "SOBADTITLE12AB01".into(),
                column: "title".into(),
                reason: "song without a title".into(),
            }]
        );
    }

    #[tokio::test]
    async fn the_report_lists_the_runs_own_load_errors_and_refused_events_by_file() {
        let rules = finished_batch(0);
        let report = report_of(&rules).await;
        let listed: Vec<(&str, Option<i64>, Option<i64>, i64)> = report
            .rejects
            .iter()
            .map(|r| (r.file.as_str(), r.line, r.code, r.rows))
            .collect();
        // Another execution's object is not this run's; a refusal has no line and counts rows.
        assert_eq!(
            listed,
            [
                ("s3://udacity-dend/log_data/a.json", Some(3), Some(1207), 1),
                (
                    "s3://udacity-dend/log_data/it's; b.json",
                    Some(9),
                    Some(1207),
                    1
                ),
                ("s3://udacity-dend/log_data/a.json", None, None, 2),
            ]
        );
        assert_eq!(report.rejected_rows, 4);
        assert_eq!(report.rejects[2].column, "user_id");
        assert_eq!(
            report.newest_play.as_deref(),
            Some("2018-11-30 23:59:59.796")
        );
        // The ledger was asked once, about the three objects of the load errors.
        assert_eq!(rules[8].num_calls(), 1);
    }

    #[tokio::test]
    async fn until_the_ledger_answers_the_step_is_not_done_and_the_next_call_asks_again() {
        // Every call reads the counts again, in one page here.
        let counts = mock!(Client::get_statement_result)
            .match_requests(|req| req.id() == Some("verify-1:2"))
            .then_output(|| page(&[("songplays", 333)], None));
        let [_, describe, answer] =
            ledger_answers(&[StatusString::Started, StatusString::Finished]);
        let tokens = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = tokens.clone();
        let ask = mock!(Client::batch_execute_statement)
            .match_requests(move |req| {
                seen.lock()
                    .unwrap()
                    .extend(req.client_token().map(str::to_owned));
                true
            })
            .then_output(|| submitted("ledger-1"));
        let rules: Vec<_> = [finished(), counts, checks(0)]
            .into_iter()
            .chain(reject_results())
            .chain([ask, describe, answer])
            .collect();
        let client = mock_client!(aws_sdk_redshiftdata, RuleMode::MatchAny, &rules);
        let deps = deps(client);
        let out = handle(&deps, resume()).await.unwrap();
        // The next call resumes from the verify batch.
        assert_eq!(
            (
                out.step.statement_id.as_str(),
                out.step.status.as_str(),
                out.step.done
            ),
            ("verify-1", "STARTED", false)
        );
        assert_eq!(out.report, None);
        assert_eq!(rules[10].num_calls(), 0);
        let out = handle(&deps, resume()).await.unwrap();
        let report = out.report.unwrap();
        assert!(out.step.done);
        assert_eq!((report.rejected_rows, report.unattributed_rows), (4, 0));
        // Asked twice under one token: the Data API answers the second with the first statement.
        let tokens = tokens.lock().unwrap();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[0], tokens[1]);
        assert_ne!(tokens[0], resume().step.client_token(STEP));
    }

    #[tokio::test]
    async fn a_ledger_question_that_lost_a_conflict_leaves_the_load_errors_unattributed() {
        // The verify batch has committed: the step must not fail with SerializationConflict,
        // which would have the state machine submit it again.
        let [ask, _, _] = ledger_answer(StatusString::Finished);
        let conflict = mock!(Client::describe_statement)
            .match_requests(|req| req.id() == Some("ledger-1"))
            .then_output(|| {
                described(
                    "ledger-1",
                    StatusString::Failed,
                    &[(
                        Sub::Failed,
                        0,
                        Some("ERROR: 1023 DETAIL: Serializable isolation violation on table"),
                    )],
                )
            });
        let rules: Vec<_> = [finished(), counts(), checks(0)]
            .into_iter()
            .chain(reject_results())
            .chain([ask, conflict])
            .collect();
        let report = report_of(&rules).await;
        // The three load errors are neither listed nor counted; the refused events are.
        assert_eq!((report.rejected_rows, report.unattributed_rows), (2, 3));
        assert_eq!(report.rejects.len(), 1);
    }

    #[test]
    fn the_ledger_is_asked_about_each_object_of_the_load_errors_once_and_within_100_kb() {
        let run = RunId::from_execution("exec-1").unwrap();
        let errors: Vec<Vec<Field>> = ["a.json", "it's; b.json", "a.json"]
            .iter()
            .map(|key| vec![s(&format!("s3://udacity-dend/log_data/{key}")), n(1)])
            .chain([vec![s("s3://elsewhere/log_data/c.json"), n(1)]])
            .collect();
        let keys = error_objects("s3://udacity-dend/", &errors);
        let (sql, asked) = ledger_question(&run, &keys).unwrap().unwrap();
        assert_eq!(asked, 2);
        assert!(sql.contains("run_id = 'exec-1'"));
        assert!(sql.contains("IN ('log_data/a.json', 'log_data/it''s; b.json')"));
        assert_eq!(ledger_question(&run, &[]).unwrap(), None);

        // 1,000 keys of 1,000 bytes: the first 89 fit, the question stays under 100 KB.
        let long: Vec<S3Key> = (0..1000)
            .map(|i| S3Key::parse(&format!("song_data/{i:04}{}", "x".repeat(986))).unwrap())
            .collect();
        let (sql, asked) = ledger_question(&run, &long).unwrap().unwrap();
        assert_eq!(asked, 89);
        assert!(sql.len() < 100 * 1024, "{}", sql.len());
        assert!(sql.contains(&format!("'{}')", long[88].as_str())));
        assert!(!sql.contains(long[89].as_str()));
    }

    #[test]
    fn load_errors_of_objects_not_asked_about_are_counted_apart() {
        let error = |key: &str| vec![s(&format!("s3://b/{key}")), n(1), s(""), n(1207), s("x")];
        let errors = [
            error("a.json"),
            error("b.json"),
            error("b.json"),
            error("c.json"),
        ];
        let attributed = Attribution {
            ours: HashSet::from(["a.json".to_owned()]),
            unasked: HashSet::from(["b.json".to_owned()]),
        };
        let (listed, unattributed) = rejects("s3://b/", &errors, &attributed, &[]).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].file, "s3://b/a.json");
        assert_eq!(unattributed, 2);
    }

    #[test]
    fn load_errors_of_a_key_too_long_for_the_views_file_name_are_counted_not_dropped() {
        // A 300-byte key, as character(256) keeps its name: cut, matching no key.
        let key = format!("log_data/{}.json", "k".repeat(286));
        let cut = format!("s3://b/{key}")[..FILE_NAME_BYTES].to_owned();
        let errors = [
            vec![s(&cut), n(1), s(""), n(1216), s("x")],
            vec![s(&cut), n(2), s(""), n(1216), s("x")],
            vec![s("s3://b/a.json"), n(1), s(""), n(1207), s("x")],
        ];
        // Never asked about: it names no object.
        let keys = error_objects("s3://b/", &errors);
        assert_eq!(
            keys.iter().map(S3Key::as_str).collect::<Vec<_>>(),
            ["a.json"]
        );
        let attributed = Attribution {
            ours: HashSet::from(["a.json".to_owned()]),
            unasked: HashSet::new(),
        };
        let (listed, unattributed) = rejects("s3://b/", &errors, &attributed, &[]).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(unattributed, 2);
    }

    #[test]
    fn the_batch_fills_the_start_time_and_the_bucket() {
        let sqls = batch_for(&resume(), &sparkify::testing::config().source).unwrap();
        assert_eq!(sqls.len(), catalogue::VERIFY.len());
        assert!(sqls[0].contains("LOCK load_listing, staging_files, staging_events,"));
        assert!(sqls[9].contains("DELETE FROM load_listing WHERE run_id = 'exec-1'"));
        assert!(sqls[3].contains("start_time >= CAST('2026-11-22 18:00:00.123' AS TIMESTAMP)"));
        assert!(sqls[3].contains("LIKE 's3://udacity-dend/%'"));
        assert!(sqls[5].contains("NOT EXISTS (SELECT 1 FROM songplays sp"));
        assert!(sqls[7].contains("MAX(start_time) AS newest_play FROM songplays"));
        assert!(sqls[8].contains("DELETE FROM staging_files WHERE run_id = 'exec-1'"));
        assert!(
            sqls.iter()
                .all(|sql| !sql.contains("DELETE FROM staging_events"))
        );
        // By hand, without a start time: every recorded error of the run's objects.
        let by_hand = Input {
            started: None,
            ..resume()
        };
        let sqls = batch_for(&by_hand, &sparkify::testing::config().source).unwrap();
        assert!(sqls[3].contains("CAST('1970-01-01 00:00:00' AS TIMESTAMP)"));
        // A start time that is not one is a named error, not SQL.
        let bad = Input {
            started: Some("2026-11-22'; DROP TABLE users; --".into()),
            ..resume()
        };
        let err = batch_for(&bad, &sparkify::testing::config().source).unwrap_err();
        assert_eq!(err.name(), "InvalidInput");
    }

    /// The two check files are one set of checks over two scopes, written out twice so that each
    /// reads as one statement: the same checks in the same order, the not-empty ones word for word.
    #[test]
    fn a_new_file_runs_checks_are_the_whole_table_checks_over_its_rows() {
        let names = |sql: &str| -> Vec<String> {
            sql.split("SELECT '")
                .skip(1)
                .map(|rest| rest[..rest.find('\'').unwrap()].to_owned())
                .collect()
        };
        let whole = catalogue::VERIFY
            .iter()
            .find(|file| file.path == "verify/quality_checks.sql")
            .unwrap()
            .text;
        let run = catalogue::QUALITY_CHECKS_RUN.text;
        assert_eq!(names(run), names(whole));
        assert!(names(whole).len() >= 10, "{:?}", names(whole));
        let not_empty = |sql: &'static str| &sql[sql.find("-- A star table empty").unwrap()..];
        assert_eq!(not_empty(run), not_empty(whole));
    }

    #[test]
    fn a_run_of_new_log_files_checks_and_counts_what_it_wrote() {
        let source = sparkify::testing::config().source;
        let whole = batch_for(&resume(), &source).unwrap();
        let new_file = new_file();
        let scoped = batch_for(&new_file, &source).unwrap();
        // Its checks are over its rows.
        let checks = |sql: &str| sql.contains("'songplays_user_in_users'");
        let at = whole.iter().position(|sql| checks(sql)).unwrap();
        assert!(checks(&scoped[at]));
        assert!(scoped[at].contains("WHERE run_id = 'exec-1' AND play_key IS NOT NULL"));
        assert!(!whole[at].contains("run_id = 'exec-1'"));
        // It counts the tables it writes, and reads neither the catalogue's counts nor its
        // refused songs.
        let counts = |sql: &str| sql.contains("'staging_events' AS table_name");
        let at_counts = whole.iter().position(|sql| counts(sql)).unwrap();
        assert!(counts(&scoped[at_counts]));
        for table in ["staging_songs", "songs", "artists"] {
            let counted = format!("'{table}', COUNT(*)");
            assert!(whole[at_counts].contains(&counted), "{table}");
            assert!(!scoped[at_counts].contains(&counted), "{table}");
        }
        for table in ["songplays", "users", "time"] {
            assert!(
                scoped[at_counts].contains(&format!("'{table}', COUNT(*)")),
                "{table}"
            );
        }
        let refused = |sql: &str| sql.contains("COUNT(*) OVER () AS refused");
        assert_eq!(whole.iter().filter(|sql| refused(sql)).count(), 1);
        assert_eq!(scoped.iter().filter(|sql| refused(sql)).count(), 0);
        // Its waiting plays are among its own lines, in the place of the event store's.
        let waiting = |sql: &str| sql.contains("COUNT(*) AS waiting, MIN(start_time) AS oldest");
        let at_waiting = whole.iter().position(|sql| waiting(sql)).unwrap();
        assert!(waiting(&scoped[at_waiting]));
        assert!(scoped[at_waiting].contains("WHERE run_id = 'exec-1'"));
        assert!(!whole[at_waiting].contains("run_id"));
        // Every other statement is the same as a nightly run's, in the same order.
        let others = |batch: &[String]| -> Vec<String> {
            batch
                .iter()
                .filter(|sql| !checks(sql) && !counts(sql) && !refused(sql) && !waiting(sql))
                .cloned()
                .collect()
        };
        assert_eq!(others(&scoped), others(&whole));
        assert_eq!(scoped.len(), whole.len() - 1);
        // A nightly run checks whole tables; a trigger that is not one is a named error.
        let nightly = Input {
            trigger: Some(
                serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events"}),
            ),
            ..resume()
        };
        assert_eq!(batch_for(&nightly, &source).unwrap(), whole);
        let bad = Input {
            trigger: Some(serde_json::json!("nightly")),
            ..resume()
        };
        assert_eq!(batch_for(&bad, &source).unwrap_err().name(), "InvalidInput");
    }

    #[tokio::test]
    async fn a_failing_check_is_data_quality_failed_naming_it() {
        let rules = finished_batch(3);
        let client = mock_client!(aws_sdk_redshiftdata, RuleMode::MatchAny, &rules);
        let err = handle(&deps(client), resume()).await.unwrap_err();
        assert_eq!(err.name(), "DataQualityFailed");
        assert_eq!(
            err,
            EtlError::DataQualityFailed(vec!["users_key_unique (3)".into()])
        );
    }

    #[tokio::test]
    async fn without_load_errors_the_ledger_is_not_asked() {
        let [ask, _, _] = ledger_answer(StatusString::Finished);
        let rules = [
            finished(),
            counts(),
            checks(0),
            rows_of("verify-1:4", vec![]),
            rows_of("verify-1:5", vec![]),
            waiting_result(0),
            rows_of("verify-1:7", vec![]),
            rows_of("verify-1:8", vec![vec![Field::IsNull(true)]]),
        ];
        let client = mock_client!(
            aws_sdk_redshiftdata,
            RuleMode::MatchAny,
            rules.iter().chain([&ask])
        );
        let out = handle(&deps(client), resume()).await.unwrap();
        let report = out.report.unwrap();
        assert!(report.passed && report.rejects.is_empty());
        assert_eq!(ask.num_calls(), 0);
        assert_eq!((report.waiting_plays, report.oldest_waiting), (0, None));
        assert_eq!(
            (report.refused_songs, report.refused_song_ids.len()),
            (Some(0), 0)
        );
    }

    #[tokio::test]
    async fn while_running_there_is_no_report_and_results_are_not_read() {
        let running = mock!(Client::describe_statement)
            .then_output(|| described("verify-1", StatusString::Picked, &[]));
        let results = checks(0);
        let client = mock_client!(
            aws_sdk_redshiftdata,
            RuleMode::MatchAny,
            [&running, &results]
        );
        let out = handle(&deps(client), resume()).await.unwrap();
        assert_eq!((out.step.status.as_str(), out.step.done), ("PICKED", false));
        assert_eq!(out.report, None);
        assert_eq!(results.num_calls(), 0);
    }
}
