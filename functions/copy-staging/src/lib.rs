//! copy-staging: stages the S3 objects this execution loads, exactly once per object, in rounds the
//! state machine drives like any step (submit, then poll). Each phase reads in a file of its own;
//! this one holds what every call hands the next and sends each call to its phase:
//!
//! 1. **list** (`list.rs`): the function lists what the run loads into parts in the manifest
//!    bucket, over as many calls as it takes: a window's objects (one HEAD per way its event
//!    spells the key, no LIST), a backfill's days, or (nightly) the log and song prefixes. One
//!    batch records the parts in `load_listing` by COPY. A continuation's listing was handed to it
//!    (step 5), so it lists nothing.
//! 2. **plan** (`plan.rs`): a batch asks the warehouse for the round's objects: what was listed
//!    that the ledger does not hold with its ETag, nor the quarantine, nor an earlier round of this
//!    execution. Song objects come first (at most 20,000 a round), then log objects (at most 18).
//! 3. **copy** (`round.rs`): the function writes the round's manifests and object list to the
//!    manifest bucket and submits the round as one batch. A round of song objects publishes them
//!    at once: the catalogue (`staging_songs`), the songs and artists rows, the ledger, and the
//!    songs whose plays load-facts matches again. A round of log objects stages their lines in
//!    `staging_events`, tagged with the execution and their object, which load-facts publishes.
//!    Once it commits, what it staged is added to the step's running total (`staged`), and the
//!    next plan follows if objects were left over; otherwise the step is done.
//! 4. **quarantine** (`quarantine.rs`): a log object whose COPY fails for its content is tried
//!    alone, then recorded in `load_quarantine` and left out.
//! 5. **hand over** (`list.rs`): once the run's load budget (`LOAD_BUDGET_SECONDS` from the
//!    execution's start) has passed, no new round starts: the rest of the listing is handed to
//!    the execution the state machine starts as this one ends (`continuation`), and this run
//!    publishes what it staged. Every run takes one round at least, so every run makes headway.
//!
//! Nothing the function holds grows with the catalogue: a part of the listing, a round's objects.

pub mod list;
pub mod objects;
pub mod plan;
pub mod quarantine;
pub mod round;

use aws_sdk_s3::Client as S3Client;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sparkify::data_api::Progress;
use sparkify::metrics::{Metrics, Name};
use sparkify::sql::RunId;
use sparkify::trigger::Trigger;
use sparkify::{Deps, EtlError, Moved, StepInput, StepOutput};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

pub use list::{Listing, Stage};
pub use plan::Planned;
pub use quarantine::Quarantined;
pub use round::RoundObjects;
pub use sparkify::trigger::Skipped;

pub const STEP: &str = "copy-staging";

/// Where a call is: listing S3 (no statement), or its statement is the batch that records the
/// listing, a round's plan, a round's batch, the batch that puts a log object in quarantine, or
/// the one that hands the rest of the listing to the next execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    List,
    Record,
    Plan,
    Copy,
    Quarantine,
    Handover,
}

/// What every call hands on to the next besides the staged figures (the state machine passes it
/// back as it came).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Carried {
    /// How far this execution's listing has got (never what it found).
    pub listing: Listing,
    /// The log objects this run put in quarantine: the first [`SKIPPED_SHOWN`].
    pub quarantined: Vec<Quarantined>,
    /// How many this run put in quarantine, in all.
    pub quarantined_count: usize,
    /// Song objects a round stages at most while a failing songs COPY is narrowed down to its
    /// object ([`crate::quarantine`]); none: [`plan::MAX_SONG_OBJECTS_PER_ROUND`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub song_limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Input {
    #[serde(flatten)]
    pub step: StepInput,
    /// The execution input (`$$.Execution.Input`): the EventBridge event that started the run, or
    /// a manual start's input.
    pub trigger: Value,
    /// The execution's start time (`$$.Execution.StartTime`), from which the load budget counts.
    /// Absent when invoked by hand: then no budget applies.
    #[serde(default)]
    pub started: Option<String>,
    /// What `statement_id` is; required with it. Both come back from the previous call.
    #[serde(default)]
    pub phase: Option<Phase>,
    /// The round number, from 1.
    #[serde(default)]
    pub round: u32,
    /// The round in flight left objects for another round.
    #[serde(default)]
    pub more: bool,
    /// What the rounds committed so far staged (the previous call's `staged`); empty on the first
    /// call.
    #[serde(default)]
    pub staged: Vec<Moved>,
    /// The objects of the round whose batch is in flight (phase copy): they say which statements
    /// of the batch stage the rows, and what its commit adds to `staged`.
    #[serde(default)]
    pub round_objects: RoundObjects,
    #[serde(flatten)]
    pub carried: Carried,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    #[serde(flatten)]
    pub step: StepOutput,
    pub phase: Phase,
    pub round: u32,
    pub more: bool,
    /// What the rounds committed so far staged, in all: the next call's input. Once done, it is
    /// also what the step moved.
    pub staged: Vec<Moved>,
    pub round_objects: RoundObjects,
    /// Set (not null) when a round has just been planned: what it stages.
    #[serde(default)]
    pub planned: Option<Planned>,
    #[serde(flatten)]
    pub carried: Carried,
    /// Once done, if this run put log objects in quarantine: the failure the run ends with
    /// (`ObjectsQuarantined`), after everything else has committed. Null otherwise.
    #[serde(default)]
    pub quarantine_cause: Option<String>,
    /// Once done: the load budget ran out with objects left, which `continuation` takes on.
    #[serde(default)]
    pub backlog: bool,
    /// With `backlog`: the name of the execution the state machine starts for the rest.
    #[serde(default)]
    pub continuation: Option<String>,
}

/// The S3 client, made at the first invocation from its configuration, kept for the process.
static S3: OnceLock<S3Client> = OnceLock::new();

/// The function's name: its package's, the Handler the template gives it (`functions/bootstrap`).
pub const NAME: &str = env!("CARGO_PKG_NAME");

/// The Lambda: [`handle`] on the Lambda Runtime API (`sparkify::lambda::serve`), run by this
/// crate's binary (`cargo lambda watch`) and by the stack's one bootstrap (`functions/bootstrap`).
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    sparkify::lambda::serve(|deps, input| async move {
        let s3 = S3.get_or_init(|| {
            // An endpoint of its own (a local S3) is addressed path-style: bucket names are not
            // host names there.
            let custom_endpoint = std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
            // Signed for the data bucket's region (DATA_REGION), not the function's: S3 answers
            // a request signed for another region with 301 PermanentRedirect, which the SDK does
            // not follow. The template deploys the stack in DATA_REGION, so the manifest bucket
            // is there too.
            let region =
                aws_sdk_s3::config::Region::new(deps.config.source.region.as_str().to_owned());
            let config = aws_sdk_s3::config::Builder::from(&deps.aws)
                .region(region)
                .force_path_style(custom_endpoint)
                .build();
            S3Client::from_conf(config)
        });
        handle(deps, s3, input).await
    })
    .await
}

/// Keys an output lists (the state machine's state is limited to 256 KB).
pub const SKIPPED_SHOWN: usize = 20;

pub async fn handle(deps: &Deps, s3: &S3Client, input: Input) -> Result<Output, EtlError> {
    let out = call(deps, s3, input).await?;
    if out.step.done {
        let mut metrics = metrics_of(
            &out.carried,
            &deps.config.pipeline,
            sparkify::metrics::now_millis(),
        );
        metrics.put_moved(&out.step.moved);
        metrics.emit();
    }
    Ok(out)
}

/// The step's metrics ([`sparkify::metrics`]), once it is done (`now`: milliseconds since the
/// epoch): the objects the run put in quarantine, the keys its events named that no object
/// answered to, and how old the newest log object it found is (left out when it found none).
pub fn metrics_of(carried: &Carried, pipeline: &str, now: i64) -> Metrics {
    let mut metrics = Metrics::new(pipeline);
    metrics
        .put(Name::QuarantinedObjects, carried.quarantined_count as f64)
        .put(Name::MissingObjects, carried.listing.not_found as f64);
    let newest = carried.listing.newest_log_millis();
    metrics.put(
        Name::NewestLogObjectAgeHours,
        newest.map_or(f64::NAN, |newest| {
            (now - newest).max(0) as f64 / 3_600_000.0
        }),
    );
    metrics
}

/// One call of the step: the phase machine below.
async fn call(deps: &Deps, s3: &S3Client, input: Input) -> Result<Output, EtlError> {
    let deadline = deps.data_api.deadline();
    let at = At {
        deps,
        s3,
        step: &input.step,
        trigger: Trigger::from_execution_input(&input.trigger, &deps.config.source)?,
        run: RunId::from_execution(&input.step.execution).map_err(EtlError::InvalidInput)?,
        budget_ends: budget_ends(input.started.as_deref(), deps.config.source.load_budget)?,
    };
    let statement_id = match (&input.step.statement_id, input.phase) {
        (Some(id), Some(phase)) if phase != Phase::List => id,
        (Some(_), None) => {
            return Err(EtlError::InvalidInput(
                "a statement_id needs its phase (record, plan, copy, quarantine or handover)"
                    .into(),
            ));
        }
        _ => {
            // Round 0 is the step's start; a listing under way comes back with phase list; a
            // later batch comes back without a statement when it lost a serialization conflict,
            // and is submitted again (under a new attempt's token).
            let round = input.round.max(1);
            tracing::info!(step = STEP, trigger = ?at.trigger, run = at.run.as_str(), round, listing = ?input.carried.listing.stage, attempt = input.step.attempt, "going on with the load");
            let out = at.go_on(round, input.staged, input.carried).await?;
            return at.follow(out, deadline).await;
        }
    };
    let phase = input.phase.unwrap_or(Phase::Plan);
    let mut current = output(
        input.step.attempt,
        statement_id,
        String::new(),
        phase,
        input.round,
        input.more,
        input.staged,
    );
    current.round_objects = input.round_objects;
    current.carried = input.carried;
    let progress = match deps.data_api.settle(statement_id, deadline, false).await {
        Ok(progress) => progress,
        Err(err) => {
            if phase == Phase::Copy
                && let Some(out) = at.after_poison(&current, &err).await?
            {
                return at.follow(out, deadline).await;
            }
            tracing::error!(step = STEP, statement_id = %statement_id, error = err.name(), "statement did not commit");
            return Err(err);
        }
    };
    match progress {
        Progress::Running { status } => {
            current.step.status = status;
            Ok(current)
        }
        Progress::Finished { rows_affected } => {
            let out = at.after_commit(current, rows_affected).await?;
            at.follow(out, deadline).await
        }
    }
}

/// When the run stops taking new rounds: its start plus the budget. None when the start is not
/// known (a call by hand).
fn budget_ends(started: Option<&str>, budget: Duration) -> Result<Option<SystemTime>, EtlError> {
    let Some(started) = started else {
        return Ok(None);
    };
    // Step Functions writes `...Z`; some engines `...+00:00`, which the SDK's parser refuses.
    let utc = started
        .strip_suffix("+00:00")
        .map(|time| format!("{time}Z"))
        .unwrap_or_else(|| started.to_owned());
    let at =
        aws_smithy_types::DateTime::from_str(&utc, aws_smithy_types::date_time::Format::DateTime)
            .ok()
            .and_then(|at| SystemTime::try_from(at).ok())
            .ok_or_else(|| {
                EtlError::InvalidInput(format!("started: {started:?} is not a UTC time"))
            })?;
    Ok(Some(at + budget))
}

/// What one call works with.
pub(crate) struct At<'a> {
    pub(crate) deps: &'a Deps,
    pub(crate) s3: &'a S3Client,
    pub(crate) step: &'a StepInput,
    pub(crate) trigger: Trigger,
    pub(crate) run: RunId,
    pub(crate) budget_ends: Option<SystemTime>,
}

impl At<'_> {
    /// Follows what this call submitted while the statement wait lasts, moving on each time a
    /// statement commits. A statement submitted here that fails is left for the next call to
    /// report, so that the state machine holds the round its error belongs to (a lost
    /// serialization conflict plans that round again).
    async fn follow(&self, mut out: Output, deadline: Instant) -> Result<Output, EtlError> {
        let mut planned = out.planned.take();
        while !out.step.done && out.phase != Phase::List {
            let id = out.step.statement_id.clone();
            match self.deps.data_api.settle(&id, deadline, true).await {
                Ok(Progress::Running { status }) => {
                    out.step.status = status;
                    break;
                }
                Ok(Progress::Finished { rows_affected }) => {
                    out = self.after_commit(out, rows_affected).await?;
                    planned = Planned::merge(planned, out.planned.take());
                }
                Err(err) => {
                    tracing::warn!(step = STEP, statement_id = %id, error = err.name(), "statement did not commit; the next call reports it");
                    break;
                }
            }
        }
        out.planned = planned;
        Ok(out)
    }

    /// Goes on from where `carried.listing` is: lists on, records the listing once it is written
    /// in full, or plans round `round` once it is recorded (or was handed to this execution).
    async fn go_on(
        &self,
        round: u32,
        staged: Vec<Moved>,
        mut carried: Carried,
    ) -> Result<Output, EtlError> {
        if let Trigger::Continuation { after } = &self.trigger
            && carried.listing.stage != Stage::Recorded
        {
            tracing::info!(
                step = STEP,
                after = after.as_str(),
                "planning what the run before left, as it handed it on"
            );
            carried.listing.stage = Stage::Recorded;
        }
        if carried.listing.stage == Stage::Recorded {
            return self.submit_plan(round, staged, carried).await;
        }
        self.list_on(round, staged, carried).await
    }

    /// What follows the commit of `current`'s statement, by its phase.
    async fn after_commit(
        &self,
        current: Output,
        rows_affected: Vec<i64>,
    ) -> Result<Output, EtlError> {
        match current.phase {
            Phase::List => Err(EtlError::InvalidInput(
                "a listing has no statement to commit".into(),
            )),
            Phase::Record => self.recorded(current).await,
            Phase::Plan => self.planned(current).await,
            Phase::Copy => self.round_committed(current, rows_affected).await,
            Phase::Quarantine => self.quarantine_recorded(current).await,
            Phase::Handover => Ok(self.handed_over(current)),
        }
    }

    /// After a round or a quarantine: round `round`'s plan, or, once the load budget has run
    /// out, the hand-over of the rest to the next execution.
    pub(crate) async fn next_round(
        &self,
        round: u32,
        staged: Vec<Moved>,
        carried: Carried,
    ) -> Result<Output, EtlError> {
        match self.budget_ends {
            Some(ends) if SystemTime::now() >= ends => {
                tracing::info!(
                    step = STEP,
                    round,
                    "the load budget has run out: the rest goes to the next execution"
                );
                self.hand_over(round, staged, carried).await
            }
            _ => self.submit_plan(round, staged, carried).await,
        }
    }

    /// The step's last answer: done, having moved `staged`.
    pub(crate) fn finished(
        &self,
        statement_id: &str,
        phase: Phase,
        round: u32,
        staged: Vec<Moved>,
        carried: Carried,
    ) -> Output {
        let mut out = self.submitted(statement_id, phase, round, staged, carried);
        out.step.status = "FINISHED".into();
        out.step.done = true;
        out.step.finished_at = Some(sparkify::step::now_rfc3339());
        out.step.moved = out.staged.clone();
        out.quarantine_cause = quarantine::cause(&out.carried);
        out
    }

    /// This call's answer while a statement of `phase` is in flight.
    pub(crate) fn submitted(
        &self,
        statement_id: &str,
        phase: Phase,
        round: u32,
        staged: Vec<Moved>,
        carried: Carried,
    ) -> Output {
        let mut out = output(
            self.step.attempt,
            statement_id,
            "SUBMITTED".into(),
            phase,
            round,
            false,
            staged,
        );
        out.carried = carried;
        out
    }
}

fn output(
    attempt: u32,
    statement_id: &str,
    status: String,
    phase: Phase,
    round: u32,
    more: bool,
    staged: Vec<Moved>,
) -> Output {
    Output {
        step: StepOutput {
            step: STEP.to_owned(),
            statement_id: statement_id.to_owned(),
            status,
            done: false,
            rows_affected: Vec::new(),
            moved: Vec::new(),
            attempt,
            finished_at: None,
        },
        phase,
        round,
        more,
        staged,
        round_objects: RoundObjects::default(),
        planned: None,
        carried: Carried::default(),
        quarantine_cause: None,
        backlog: false,
        continuation: None,
    }
}

/// Now, UTC, as `YYYY-MM-DD HH:MI:SS` (COPY's default TIMEFORMAT).
pub(crate) fn now_utc() -> String {
    let text = now_rfc3339();
    // RFC 3339: 2026-11-22T10:00:00Z or with a fraction.
    text.get(..19).unwrap_or(&text).replace('T', " ")
}

/// Now, UTC, in RFC 3339 (`2026-11-22T10:00:00Z`, or with a fraction).
pub(crate) fn now_rfc3339() -> String {
    let now = aws_smithy_types::DateTime::from(SystemTime::now());
    now.fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_redshiftdata::Client;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use quarantine::RoundObject;
    use serde_json::json;
    use sparkify::data_api::client_token;
    use sparkify::testing::{deps, submitted};

    #[test]
    fn the_metrics_are_the_objects_quarantined_and_not_found_and_the_newest_logs_age() {
        let carried = Carried {
            quarantined_count: 2,
            listing: list::Listing {
                not_found: 3,
                newest_log: Some("2026-12-06T03:00:00Z".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        // 90 minutes after the newest log object was written.
        let now = 1_796_526_000_000 + 90 * 60_000;
        let document = metrics_of(&carried, "sparkify-prod", now).document(0);
        assert_eq!(
            (
                document["QuarantinedObjects"].as_f64(),
                document["MissingObjects"].as_f64(),
                document["NewestLogObjectAgeHours"].as_f64()
            ),
            (Some(2.0), Some(3.0), Some(1.5))
        );
        assert_eq!(document["Pipeline"], "sparkify-prod");
        // A run that found no log object (a backfill, a continuation) leaves the age out.
        let document = metrics_of(&Carried::default(), "p", now).document(0);
        assert!(
            document.get("NewestLogObjectAgeHours").is_none(),
            "{document}"
        );
    }

    fn no_s3() -> S3Client {
        mock_client!(aws_sdk_s3, [])
    }

    /// Handler dependencies whose calls follow their statements for up to 5 s, on S3 that
    /// answers `listing` and takes every PutObject (the manifests).
    fn following(client: Client, listing: &aws_smithy_mocks::Rule) -> (Deps, S3Client) {
        use aws_sdk_s3::operation::put_object::PutObjectOutput;
        use sparkify::data_api::DataApi;

        let puts = mock!(aws_sdk_s3::Client::put_object)
            .then_output(|| PutObjectOutput::builder().build());
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [listing, &puts]);
        let mut deps = deps(client.clone());
        let mut warehouse = deps.config.warehouse.clone();
        warehouse.statement_wait = std::time::Duration::from_secs(5);
        deps.data_api = DataApi::new(client, warehouse);
        (deps, s3)
    }

    fn first_call(trigger: Value) -> Input {
        Input {
            step: StepInput {
                execution: "arn:aws:states:us-west-2:1:execution:sparkify-etl:run-7".into(),
                statement_id: None,
                attempt: 0,
            },
            trigger,
            started: None,
            phase: None,
            round: 0,
            more: false,
            staged: Vec::new(),
            round_objects: RoundObjects::default(),
            carried: Carried::default(),
        }
    }

    /// Output figures as `(what, count)` pairs.
    fn figures(moved: &[Moved]) -> Vec<(&str, i64)> {
        moved
            .iter()
            .map(|figure| (figure.what.as_str(), figure.count))
            .collect()
    }

    const EXECUTION: &str = "arn:aws:states:us-west-2:1:execution:sparkify-etl:run-7";

    /// A call whose listing is recorded, so that it plans round `round` at once.
    fn recorded_call(round: u32) -> Input {
        let mut call = first_call(json!({}));
        call.round = round;
        call.carried.listing = Listing {
            stage: Stage::Recorded,
            parts: 1,
            objects: 18,
            ..Listing::default()
        };
        call
    }

    /// A listed object's result row: key, ETag "e", 5 bytes.
    fn row(key: &str) -> Vec<aws_sdk_redshiftdata::types::Field> {
        use aws_sdk_redshiftdata::types::Field;
        vec![
            Field::StringValue(key.into()),
            Field::StringValue("e".into()),
            Field::LongValue(5),
        ]
    }

    /// The Data API's answers to plan `id`, a batch of the plan's three statements under the
    /// client token of round `round` (any attempt): submitted, finished, and results that say
    /// the round stages `logs` and `songs` and nothing is in quarantine.
    fn plan_rules(
        id: &'static str,
        round: u32,
        logs: Vec<String>,
        songs: Vec<String>,
    ) -> Vec<aws_smithy_mocks::Rule> {
        use aws_sdk_redshiftdata::operation::get_statement_result::GetStatementResultOutput;
        use aws_sdk_redshiftdata::types::{StatementStatusString as Sub, StatusString};
        use sparkify::testing::described;

        let tokens: Vec<String> = (0..3)
            .map(|attempt| {
                let batch = match attempt {
                    0 => format!("copy-staging/plan/{round}"),
                    n => format!("copy-staging/plan/{round}/attempt/{n}"),
                };
                client_token(EXECUTION, &batch)
            })
            .collect();
        let submit = mock!(Client::batch_execute_statement)
            .match_requests(move |req| {
                req.sqls().len() == 3
                    && req.sqls()[0].contains("FROM load_listing l")
                    && req
                        .client_token()
                        .is_some_and(|token| tokens.iter().any(|t| t == token))
            })
            .then_output(move || submitted(id));
        let finished = mock!(Client::describe_statement)
            .match_requests(move |req| req.id() == Some(id))
            .then_output(move || {
                described(
                    id,
                    StatusString::Finished,
                    &vec![(Sub::Finished, 0, None); 3],
                )
            });
        let results = [logs, songs, Vec::new()]
            .into_iter()
            .enumerate()
            .map(|(index, keys)| {
                let sub = format!("{id}:{}", index + 1);
                mock!(Client::get_statement_result)
                    .match_requests(move |req| req.id() == Some(sub.as_str()))
                    .then_output(move || {
                        GetStatementResultOutput::builder()
                            .set_records(Some(keys.iter().map(|key| row(key)).collect()))
                            .build()
                            .unwrap()
                    })
            });
        [submit, finished].into_iter().chain(results).collect()
    }

    /// The first call lists (here in full, within its time) and submits the batch that records
    /// the listing in the warehouse, under the step's token for it.
    #[tokio::test]
    async fn the_first_call_lists_then_submits_the_listing_to_the_warehouse_under_its_own_token() {
        use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
        use aws_sdk_s3::types::Object;

        let record = mock!(Client::batch_execute_statement)
            .match_requests(|req| {
                let sqls = req.sqls();
                sqls.len() == 3
                    && sqls[0].contains("LOCK load_listing;")
                    && sqls[1].contains("WHERE run_id = 'run-7'")
                    && sqls[2].contains(
                        "FROM 's3://sparkify-work/manifests/run-7/listing/listing.manifest'",
                    )
                    && sqls[2].contains("IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-copy'")
                    && req.client_token()
                        == Some(client_token(EXECUTION, "copy-staging/listing").as_str())
            })
            .then_output(|| submitted("listing-1"));
        let client = mock_client!(aws_sdk_redshiftdata, [&record]);
        let listing = mock!(aws_sdk_s3::Client::list_objects_v2).then_compute_output(|req| {
            let keys: &[&str] = if req.prefix() == Some("log_data/") {
                &[
                    "log_data/2018/11/a.json",
                    "log_data/2018/11/bad
key.json",
                ]
            } else {
                &["song_data/A/A/A/TRAAA.json"]
            };
            ListObjectsV2Output::builder()
                .set_contents(Some(
                    keys.iter()
                        .map(|key| Object::builder().key(*key).e_tag("\"e\"").size(5).build())
                        .collect(),
                ))
                .build()
        });
        let (_, s3) = following(mock_client!(aws_sdk_redshiftdata, []), &listing);
        let out = handle(&deps(client), &s3, first_call(json!({})))
            .await
            .unwrap();
        assert_eq!(
            (
                out.step.statement_id.as_str(),
                out.phase,
                out.round,
                out.step.done
            ),
            ("listing-1", Phase::Record, 1, false)
        );
        let listed = &out.carried.listing;
        assert_eq!(
            (
                listed.stage,
                listed.parts,
                listed.objects,
                listed.skipped_total
            ),
            (Stage::Listed, 2, 2, 1)
        );
        assert_eq!(listed.skipped[0].key, "log_data/2018/11/bad\nkey.json");
        assert_eq!((record.num_calls(), listing.num_calls()), (1, 2));
    }

    /// Once its listing is recorded, each round is planned in the warehouse: the plan batch,
    /// then the round of the objects its results name.
    #[tokio::test]
    async fn after_its_listing_is_recorded_each_round_is_what_the_warehouse_plans() {
        use aws_sdk_redshiftdata::types::{StatementStatusString as Sub, StatusString};
        use sparkify::testing::described;

        let recorded = mock!(Client::describe_statement)
            .match_requests(|req| req.id() == Some("listing-1"))
            .then_output(|| {
                described(
                    "listing-1",
                    StatusString::Finished,
                    &vec![(Sub::Finished, 3, None); 3],
                )
            });
        let mut rules = plan_rules(
            "plan-1",
            1,
            vec!["log_data/2018/11/c.json".into()],
            Vec::new(),
        );
        let round = mock!(Client::batch_execute_statement)
            .match_requests(|req| {
                req.sqls().len() == 6
                    && req.sqls()[0].contains("LOCK staging_files, staging_events;")
                    && req.sqls()[4].contains("'log_data/2018/11/c.json'")
            })
            .then_output(|| submitted("copy-1"));
        let running = mock!(Client::describe_statement)
            .match_requests(|req| req.id() == Some("copy-1"))
            .then_output(|| described("copy-1", StatusString::Started, &[(Sub::Started, 0, None)]));
        rules.extend([recorded, round, running]);
        let client = mock_client!(aws_sdk_redshiftdata, RuleMode::MatchAny, &rules);
        let puts = mock!(aws_sdk_s3::Client::put_object)
            .then_output(|| aws_sdk_s3::operation::put_object::PutObjectOutput::builder().build());
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&puts]);
        let (deps, _) = following(client, &puts);

        let mut call = first_call(json!({}));
        call.step.statement_id = Some("listing-1".into());
        call.phase = Some(Phase::Record);
        call.round = 1;
        call.carried.listing.stage = Stage::Listed;
        call.carried.listing.objects = 1;
        let out = handle(&deps, &s3, call).await.unwrap();
        assert_eq!(
            (out.step.statement_id.as_str(), out.phase, out.round),
            ("copy-1", Phase::Copy, 1)
        );
        assert_eq!(out.carried.listing.stage, Stage::Recorded);
        assert_eq!(
            (
                out.round_objects.log_objects,
                out.round_objects.song_objects
            ),
            (1, 0)
        );
        assert_eq!(out.round_objects.logs[0].key, "log_data/2018/11/c.json");
        let planned = out.planned.unwrap();
        assert_eq!(planned.log_objects, vec!["log_data/2018/11/c.json"]);
        assert_eq!(planned.song_objects, 0);
        // The round's manifest, its object list and the list's manifest.
        assert_eq!(puts.num_calls(), 3);
    }

    #[tokio::test]
    async fn a_bad_trigger_or_a_statement_without_its_phase_is_invalid_input() {
        let submit = mock!(Client::batch_execute_statement).then_output(|| submitted("never"));
        let client = mock_client!(aws_sdk_redshiftdata, [&submit]);
        let deps = deps(client);
        let event = json!({"detail-type": "Object Created", "detail": {
            "bucket": {"name": "udacity-dend"}, "object": {"key": "elsewhere/x.json"}}});
        let err = handle(&deps, &no_s3(), first_call(event))
            .await
            .unwrap_err();
        assert_eq!(err.name(), "InvalidInput");
        let mut resumed = first_call(json!({}));
        resumed.step.statement_id = Some("plan-1".into());
        let err = handle(&deps, &no_s3(), resumed).await.unwrap_err();
        assert_eq!(err.name(), "InvalidInput");
        assert_eq!(submit.num_calls(), 0);
    }

    /// The Data API's answers to a call that plans round 1 (`plan-1`: one log object and one
    /// song object), submits the song round (`copy-1`, described by `round_described`), then
    /// plans round 2 (`plan-2`: the log object) and submits it (`copy-2`, which commits).
    fn first_round_rules(
        round_described: fn() -> aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput,
    ) -> Vec<aws_smithy_mocks::Rule> {
        use aws_sdk_redshiftdata::types::{StatementStatusString as Sub, StatusString};
        let mut rules = plan_rules(
            "plan-1",
            1,
            vec!["log_data/2018/11/a.json".into()],
            vec!["song_data/A/A/A/TRAAA.json".into()],
        );
        let round = mock!(Client::batch_execute_statement)
            .match_requests(|req| req.sqls().len() > 3 && req.sqls()[1].contains("/round-001/"))
            .then_output(|| submitted("copy-1"));
        let described_round = mock!(Client::describe_statement)
            .match_requests(|req| req.id() == Some("copy-1"))
            .then_output(round_described);
        rules.extend([round, described_round]);
        rules.extend(plan_rules(
            "plan-2",
            2,
            vec!["log_data/2018/11/a.json".into()],
            Vec::new(),
        ));
        let logs = mock!(Client::batch_execute_statement)
            .match_requests(|req| req.sqls().len() > 3 && req.sqls()[1].contains("/round-002/"))
            .then_output(|| submitted("copy-2"));
        let described_logs = mock!(Client::describe_statement)
            .match_requests(|req| req.id() == Some("copy-2"))
            .then_output(|| {
                // The lock, the object list, the temp table, the log object's 7 events (COPY,
                // tag), then staging them.
                let rows = [-1, 1, -1, 7, 7, 7];
                sparkify::testing::described(
                    "copy-2",
                    StatusString::Finished,
                    &rows.map(|rows| (Sub::Finished, rows, None)),
                )
            });
        rules.extend([logs, described_logs]);
        rules
    }

    /// Dependencies for a call that plans round 1 and submits it; the rules say how often the
    /// first plan and the song round were submitted and the song round described.
    fn one_round(
        round_described: fn() -> aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput,
    ) -> (Deps, S3Client, [aws_smithy_mocks::Rule; 3]) {
        let rules = first_round_rules(round_described);
        let client = mock_client!(aws_sdk_redshiftdata, RuleMode::MatchAny, &rules);
        let no_listing = mock!(aws_sdk_s3::Client::list_objects_v2).then_output(|| {
            aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output::builder().build()
        });
        let (deps, s3) = following(client, &no_listing);
        (
            deps,
            s3,
            [rules[0].clone(), rules[5].clone(), rules[6].clone()],
        )
    }

    /// The rows each statement of the song round affects: the lock, the object list, the temp
    /// table, the song COPY, then publishing the song (its key, the artists it changes, the
    /// catalogue, the ledger, the changed songs, the songs and artists rows, the quarantine).
    const SONG_ROUND: [i64; 16] = [-1, 1, -1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0];

    /// With a statement wait, one call goes from the plan to its round to the next plan and its
    /// round to the end as each commits: no Wait state at all. Songs come first, in a round of
    /// their own.
    #[tokio::test]
    async fn within_the_statement_wait_one_call_plans_stages_and_finishes() {
        use aws_sdk_redshiftdata::types::{StatementStatusString as Sub, StatusString};
        let (deps, s3, [plan, round, staged]) = one_round(|| {
            sparkify::testing::described(
                "copy-1",
                StatusString::Finished,
                &SONG_ROUND.map(|rows| (Sub::Finished, rows, None)),
            )
        });
        let out = handle(&deps, &s3, recorded_call(0)).await.unwrap();
        assert!(out.step.done, "{out:?}");
        assert_eq!(
            figures(&out.step.moved),
            [
                ("events", 7),
                ("log objects", 1),
                ("songs", 1),
                ("song objects", 1)
            ]
        );
        // The output still says what the call planned, though later states came after it.
        let planned = out.planned.clone().unwrap();
        assert_eq!(planned.log_objects, vec!["log_data/2018/11/a.json"]);
        assert_eq!(planned.song_objects, 1);
        assert_eq!(
            (
                out.step.statement_id.as_str(),
                out.phase,
                out.round,
                out.step.rows_affected
            ),
            ("copy-2", Phase::Copy, 2, vec![-1, 1, -1, 7, 7, 7])
        );
        assert_eq!(
            (plan.num_calls(), round.num_calls(), staged.num_calls()),
            (1, 1, 1)
        );
        assert!(!out.backlog);
    }

    /// Mocks for a nightly run of three rounds: 19 log objects and 2 song objects listed, so
    /// round 1 publishes the songs (16 statements, each affecting 10 rows), round 2 stages 18 log
    /// objects (40 statements, each affecting 10 rows) and round 3 the last log object (6
    /// statements, each affecting 3 rows). Every statement commits at once and the statement wait
    /// is 5 s, so one call can go through all three.
    fn three_rounds() -> (Deps, S3Client) {
        use aws_sdk_redshiftdata::types::{StatementStatusString as Sub, StatusString};
        use sparkify::testing::described;

        let log_key = |i: usize| format!("log_data/2018/11/2018-11-{i:02}-events.json");
        let submits = |id: &'static str, folder: &'static str| {
            mock!(Client::batch_execute_statement)
                .match_requests(move |req| req.sqls().len() > 3 && req.sqls()[1].contains(folder))
                .then_output(move || submitted(id))
        };
        let finished = |id: &'static str, statements: usize, rows: i64| {
            mock!(Client::describe_statement)
                .match_requests(move |req| req.id() == Some(id))
                .then_output(move || {
                    described(
                        id,
                        StatusString::Finished,
                        &vec![(Sub::Finished, rows, None); statements],
                    )
                })
        };
        let songs = vec![
            "song_data/A/A/A/TRAAA.json".to_owned(),
            "song_data/A/A/B/TRAAB.json".to_owned(),
        ];
        let mut rules = plan_rules("plan-1", 1, (1..=19).map(log_key).collect(), songs);
        rules.extend(plan_rules(
            "plan-2",
            2,
            (1..=19).map(log_key).collect(),
            Vec::new(),
        ));
        rules.extend(plan_rules("plan-3", 3, vec![log_key(19)], Vec::new()));
        rules.extend([
            submits("copy-1", "/round-001/"),
            submits("copy-2", "/round-002/"),
            submits("copy-3", "/round-003/"),
            finished("copy-1", 16, 10),
            finished("copy-2", 40, 10),
            finished("copy-3", 6, 3),
        ]);
        let client = mock_client!(aws_sdk_redshiftdata, RuleMode::MatchAny, &rules);
        let no_listing = mock!(aws_sdk_s3::Client::list_objects_v2).then_output(|| {
            aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output::builder().build()
        });
        following(client, &no_listing)
    }

    /// The three rounds' rows and objects: 10 events from round 2 and 3 from round 3, from
    /// 18 + 1 log objects; 10 songs from 2 song objects, all in round 1.
    const ALL_ROUNDS: [(&str, i64); 4] = [
        ("events", 13),
        ("log objects", 19),
        ("songs", 10),
        ("song objects", 2),
    ];

    /// The step moved what every round staged, not what its last round did.
    #[tokio::test]
    async fn three_rounds_committed_in_one_call_moved_what_all_staged() {
        let (deps, s3) = three_rounds();
        let out = handle(&deps, &s3, recorded_call(0)).await.unwrap();
        assert!(out.step.done, "{out:?}");
        assert_eq!((out.round, out.step.statement_id.as_str()), (3, "copy-3"));
        assert_eq!(figures(&out.step.moved), ALL_ROUNDS);
        assert_eq!(out.staged, out.step.moved);
    }

    /// A call whose load budget has run out when a round commits hands the rest of the listing
    /// over to the execution that takes it on, and ends the step with the backlog said: it has
    /// moved what its rounds staged.
    #[tokio::test]
    async fn once_the_load_budget_has_run_out_the_rest_is_handed_to_the_next_execution() {
        use aws_sdk_redshiftdata::types::{StatementStatusString as Sub, StatusString};
        use sparkify::testing::described;
        let next = sparkify::trigger::continuation_of(&RunId::from_execution(EXECUTION).unwrap());
        let expected_next = format!("SET run_id = '{}'", next.as_str());
        let hand_over = mock!(Client::batch_execute_statement)
            .match_requests(move |req| {
                req.sqls().len() == 3
                    && req.sqls()[0].contains("LOCK load_listing, staging_files;")
                    && req.sqls()[1].contains("run_id = 'run-7'")
                    && req.sqls()[2].contains(&expected_next)
                    && req.client_token()
                        == Some(client_token(EXECUTION, "copy-staging/handover").as_str())
            })
            .then_output(|| submitted("handover-2"));
        let handed = mock!(Client::describe_statement)
            .match_requests(|req| req.id() == Some("handover-2"))
            .then_output(|| {
                described(
                    "handover-2",
                    StatusString::Finished,
                    &vec![(Sub::Finished, 0, None); 3],
                )
            });
        let mut rules = first_round_rules(|| {
            sparkify::testing::described(
                "copy-1",
                StatusString::Finished,
                &SONG_ROUND.map(|rows| (Sub::Finished, rows, None)),
            )
        });
        rules.extend([hand_over.clone(), handed]);
        let client = mock_client!(aws_sdk_redshiftdata, RuleMode::MatchAny, &rules);
        let no_listing = mock!(aws_sdk_s3::Client::list_objects_v2).then_output(|| {
            aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output::builder().build()
        });
        let (mut deps, s3) = following(client, &no_listing);
        deps.config.source.load_budget = std::time::Duration::ZERO;
        let mut call = recorded_call(0);
        call.started = Some("2026-01-01T03:00:00Z".into());
        let out = handle(&deps, &s3, call).await.unwrap();
        assert!(out.step.done && out.backlog, "{out:?}");
        assert_eq!(out.continuation.as_deref(), Some(next.as_str()));
        assert_eq!((out.phase, out.round), (Phase::Handover, 2));
        assert_eq!(
            figures(&out.step.moved),
            [
                ("events", 0),
                ("log objects", 0),
                ("songs", 1),
                ("song objects", 1)
            ]
        );
        assert_eq!(hand_over.num_calls(), 1);
        // rules[7] is the second plan's submission: never made.
        assert_eq!(rules[7].num_calls(), 0);
    }

    /// A continuation lists nothing: the run before handed it its listing, so its first call
    /// plans at once.
    #[tokio::test]
    async fn a_continuation_plans_at_once_from_the_listing_handed_to_it() {
        let rules = plan_rules("plan-1", 1, Vec::new(), Vec::new());
        let client = mock_client!(aws_sdk_redshiftdata, RuleMode::MatchAny, &rules);
        let any_listing = mock!(aws_sdk_s3::Client::list_objects_v2).then_output(|| {
            aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output::builder().build()
        });
        let (deps, s3) = following(client, &any_listing);
        let call = first_call(json!({"continue": {"after": "nightly-1"}}));
        let out = handle(&deps, &s3, call).await.unwrap();
        assert!(out.step.done, "{out:?}");
        assert_eq!(out.carried.listing.stage, Stage::Recorded);
        assert_eq!((rules[0].num_calls(), any_listing.num_calls()), (1, 0));
    }

    /// A round whose batch failed at a log object's COPY for its content: the object is tried in
    /// a round of its own; failing there too, it is put in quarantine, and once that commits the
    /// rest is planned again. Another failure of the same COPY is the run's error, as before.
    #[tokio::test]
    async fn a_log_object_that_fails_its_copy_for_its_content_is_tried_alone_then_quarantined() {
        use aws_sdk_redshiftdata::types::{StatementStatusString as Sub, StatusString};
        use sparkify::testing::described;
        const LOAD_FAILED: &str = "ERROR: Load into table 'events_load' failed. Check 'sys_load_error_detail' system table for details.";
        fn failed_at(
            id: &str,
            at: usize,
            subs: usize,
            error: &'static str,
        ) -> aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput {
            let rows: Vec<(Sub, i64, Option<&str>)> = (1..=subs)
                .map(|n| match n.cmp(&at) {
                    std::cmp::Ordering::Less => (Sub::Finished, 0, None),
                    std::cmp::Ordering::Equal => (Sub::Failed, -1, Some(error)),
                    std::cmp::Ordering::Greater => (Sub::Aborted, -1, None),
                })
                .collect();
            described(id, StatusString::Failed, &rows)
        }
        let object = |name: &str| RoundObject {
            key: format!("log_data/2018/11/{name}.json"),
            etag: format!("etag-{name}"),
            size: 70,
        };
        // Round 3 held a.json and b.json, no songs: lock, files, create, (COPY, tag) x 2, stage.
        let round3 = mock!(Client::describe_statement)
            .match_requests(|req| req.id() == Some("copy-3"))
            .then_output(|| failed_at("copy-3", 6, 8, LOAD_FAILED));
        let alone = mock!(Client::batch_execute_statement)
            .match_requests(|req| {
                req.sqls().len() == 6
                    && req.sqls()[3].contains("events-01.manifest")
                    && req.sqls()[4].contains("'log_data/2018/11/b.json'")
                    && req.client_token()
                        == Some(
                            client_token(
                                "arn:aws:states:us-west-2:1:execution:sparkify-etl:run-7",
                                "copy-staging/copy/4",
                            )
                            .as_str(),
                        )
            })
            .then_output(|| submitted("copy-4"));
        let round4 = mock!(Client::describe_statement)
            .match_requests(|req| req.id() == Some("copy-4"))
            .then_output(|| failed_at("copy-4", 4, 6, LOAD_FAILED));
        let quarantine = mock!(Client::batch_execute_statement)
            .match_requests(|req| {
                req.sqls().len() == 3
                    && req.sqls()[0].contains("LOCK load_quarantine;")
                    && req.sqls()[1].contains("'log_data/2018/11/b.json', 'etag-b', 70")
                    && req.sqls()[1].contains("MAXERROR 10")
            })
            .then_output(|| submitted("quarantine-5"));
        let recorded = mock!(Client::describe_statement)
            .match_requests(|req| req.id() == Some("quarantine-5"))
            .then_output(|| {
                described(
                    "quarantine-5",
                    StatusString::Finished,
                    &[
                        (Sub::Finished, 0, None),
                        (Sub::Finished, 0, None),
                        (Sub::Finished, 0, None),
                    ],
                )
            });
        let plan = mock!(Client::batch_execute_statement)
            .match_requests(|req| {
                req.sqls().len() == 3 && req.sqls()[2].contains("JOIN load_quarantine q")
            })
            .then_output(|| submitted("plan-6"));
        let client = mock_client!(
            aws_sdk_redshiftdata,
            RuleMode::MatchAny,
            [&round3, &alone, &round4, &quarantine, &recorded, &plan]
        );
        let (deps, s3) = {
            use aws_sdk_s3::operation::put_object::PutObjectOutput;
            let puts = mock!(aws_sdk_s3::Client::put_object)
                .then_output(|| PutObjectOutput::builder().build());
            (
                deps(client),
                mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&puts]),
            )
        };

        let mut call = first_call(json!({}));
        call.step.statement_id = Some("copy-3".into());
        call.phase = Some(Phase::Copy);
        call.round = 3;
        call.carried.listing.stage = Stage::Recorded;
        call.round_objects = RoundObjects {
            log_objects: 2,
            song_objects: 0,
            logs: vec![object("a"), object("b")],
            song: None,
        };
        let out = handle(&deps, &s3, call.clone()).await.unwrap();
        assert_eq!((out.phase, out.round, out.more), (Phase::Copy, 4, true));
        assert_eq!(out.round_objects.logs, vec![object("b")]);
        assert_eq!(out.carried.quarantined_count, 0);

        call.step.statement_id = Some("copy-4".into());
        call.round = 4;
        call.more = true;
        call.round_objects = out.round_objects;
        let out = handle(&deps, &s3, call.clone()).await.unwrap();
        assert_eq!((out.phase, out.round), (Phase::Quarantine, 5));
        assert_eq!(out.carried.quarantined_count, 1);
        assert_eq!(out.carried.quarantined[0].key, "log_data/2018/11/b.json");
        assert!(out.carried.quarantined[0].reason.contains("MAXERROR 10"));

        call.step.statement_id = Some("quarantine-5".into());
        call.phase = Some(Phase::Quarantine);
        call.round = 5;
        call.more = false;
        call.round_objects = RoundObjects::default();
        call.carried = out.carried;
        let out = handle(&deps, &s3, call.clone()).await.unwrap();
        assert_eq!(
            (out.phase, out.round, out.step.statement_id.as_str()),
            (Phase::Plan, 6, "plan-6")
        );
        assert_eq!(
            out.carried.quarantined_count, 1,
            "the count goes on to the end"
        );
        assert_eq!(
            (alone.num_calls(), quarantine.num_calls(), plan.num_calls()),
            (1, 1, 1)
        );

        // Past the run's limit, the next one fails the run by name, saying why.
        let mut past_limit = call.clone();
        past_limit.step.statement_id = Some("copy-3".into());
        past_limit.phase = Some(Phase::Copy);
        past_limit.round = 3;
        past_limit.carried.quarantined_count = quarantine::MAX_PER_RUN;
        past_limit.round_objects = RoundObjects {
            log_objects: 2,
            song_objects: 0,
            logs: vec![object("a"), object("b")],
            song: None,
        };
        let err = handle(&deps, &s3, past_limit).await.unwrap_err();
        assert_eq!(err.name(), "StatementFailed");
        assert!(
            err.to_string().contains("already quarantined in this run"),
            "{err}"
        );
        assert_eq!(alone.num_calls(), 1, "no round alone past the limit");

        // The same COPY failing for another reason is the run's error.
        let mut other = call;
        other.step.statement_id = Some("copy-4".into());
        other.phase = Some(Phase::Copy);
        other.round_objects = RoundObjects {
            log_objects: 1,
            song_objects: 0,
            logs: vec![object("b")],
            song: None,
        };
        let denied = mock!(Client::describe_statement).then_output(|| {
            failed_at(
                "copy-4",
                4,
                6,
                "ERROR: S3ServiceException:Access Denied,Status 403",
            )
        });
        let deps = sparkify::testing::deps(mock_client!(aws_sdk_redshiftdata, [&denied]));
        let err = handle(&deps, &s3, other).await.unwrap_err();
        assert_eq!(err.name(), "StatementFailed");
    }

    /// A round that lost a serialization conflict is planned and staged again with what the
    /// earlier rounds staged, as the state machine's CopyStagingResubmit keeps it: counted once.
    #[tokio::test]
    async fn a_resubmitted_round_adds_to_the_earlier_rounds_once() {
        let (deps, s3) = three_rounds();
        let mut resubmitted = recorded_call(3);
        resubmitted.step.attempt = 1;
        resubmitted.staged = [
            ("events", 10),
            ("log objects", 18),
            ("songs", 10),
            ("song objects", 2),
        ]
        .map(|(what, count)| Moved::new(what, count))
        .to_vec();
        let out = handle(&deps, &s3, resubmitted).await.unwrap();
        assert!(out.step.done, "{out:?}");
        assert_eq!(figures(&out.step.moved), ALL_ROUNDS);
    }

    /// A round this call submitted that loses a serialization conflict is not this call's error:
    /// the call hands the round back, and the next call, given its statement, raises
    /// SerializationConflict, so the state machine plans that round again.
    #[tokio::test]
    async fn a_round_submitted_in_this_call_that_fails_is_reported_by_the_next() {
        use aws_sdk_redshiftdata::types::{StatementStatusString as Sub, StatusString};
        let (deps, s3, _) = one_round(|| {
            sparkify::testing::described(
                "copy-1",
                StatusString::Failed,
                &[(
                    Sub::Failed,
                    -1,
                    Some(
                        "ERROR: 1023 DETAIL: Serializable isolation violation on table - 100, transactions forming the cycle are: 1, 2",
                    ),
                )],
            )
        });
        let out = handle(&deps, &s3, recorded_call(0)).await.unwrap();
        assert_eq!(
            (
                out.step.statement_id.as_str(),
                out.phase,
                out.round,
                out.step.done
            ),
            ("copy-1", Phase::Copy, 1, false)
        );
        let mut next = first_call(json!({}));
        next.step.statement_id = Some(out.step.statement_id);
        next.phase = Some(out.phase);
        next.round = out.round;
        let err = handle(&deps, &s3, next).await.unwrap_err();
        assert_eq!(err.name(), "SerializationConflict");
    }

    #[test]
    fn the_budget_counts_from_the_executions_start_however_the_engine_writes_it() {
        let budget = std::time::Duration::from_secs(60);
        let start = |text: &str| budget_ends(Some(text), budget).unwrap().unwrap();
        assert_eq!(
            start("2026-12-06T00:19:29.569Z"),
            start("2026-12-06T00:19:29.569+00:00")
        );
        assert_eq!(budget_ends(None, budget).unwrap(), None);
        let err = budget_ends(Some("yesterday"), budget).unwrap_err();
        assert_eq!(err.name(), "InvalidInput");
    }

    #[test]
    fn now_is_copys_default_time_format() {
        let now = now_utc();
        assert_eq!(now.len(), 19, "{now}");
        assert_eq!(&now[10..11], " ");
    }
}
