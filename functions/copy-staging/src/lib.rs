//! copy-staging: stages the S3 objects this execution loads, exactly once per object, in rounds the
//! state machine drives like any step (submit, then poll):
//!
//! 1. **list** (`listing.rs`): the function lists the log objects (a window's keys, a backfill's
//!    days, or the log prefix) and the song prefix into parts in the manifest bucket, over as many
//!    calls as it takes, then one batch records the parts in `load_listing` by COPY;
//! 2. **plan** (`plan.rs`): a batch asks the warehouse for the round's objects: what was listed
//!    that the ledger does not hold with its ETag, nor the quarantine, nor an earlier round of this
//!    execution (at most 15 log objects and 20,000 song objects);
//! 3. once it has finished, the function writes the round's manifests and object list to the
//!    manifest bucket, and submits the round as one batch: log rows land in `staging_events`
//!    tagged with the execution and their object, song rows replace their songs in the
//!    `staging_songs` catalogue and go into the ledger, and every object is recorded in
//!    `staging_files`;
//! 4. once the round has committed, its staged rows and objects are added to the step's running
//!    total (`staged`, which every call hands on to the next), and a new plan starts if objects
//!    were left over; otherwise the step is done, and has moved that total. A plan that finds
//!    nothing to load ends the step at once.
//!
//! Nothing the function holds grows with the catalogue: a part of the listing, a round's objects.

pub mod listing;
pub mod objects;
pub mod plan;
pub mod quarantine;

use aws_sdk_s3::Client as S3Client;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sparkify::config::DataSource;
use sparkify::data_api::Progress;
use sparkify::sql::{Literal, RunId, S3Key, SqlFile, catalogue, render};
use sparkify::trigger::Trigger;
use sparkify::{Deps, EtlError, Moved, StepInput, StepOutput};
use tokio::time::Instant;

use listing::{Listing, Stage};
use objects::Skipped;
use plan::{Listed, Round};
use quarantine::{Quarantined, RoundObject};

pub const STEP: &str = "copy-staging";

/// Where a call is: listing S3 (no statement), or its statement is the batch that records the
/// listing, a round's plan, a round's batch, or the batch that puts a log object in quarantine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    List,
    Record,
    Plan,
    Copy,
    Quarantine,
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
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Input {
    #[serde(flatten)]
    pub step: StepInput,
    /// The execution input (`$$.Execution.Input`): the EventBridge event that started the run, or
    /// a manual start's input.
    pub trigger: Value,
    /// What `statement_id` is; required with it. Both come back from the previous call.
    #[serde(default)]
    pub phase: Option<Phase>,
    /// The round number, from 1.
    #[serde(default)]
    pub round: u32,
    /// The round in flight left log objects for another round.
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
}

/// How many objects of each kind one round stages, and its log objects (a failed COPY names one
/// by its place in the batch).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundObjects {
    pub log_objects: usize,
    pub song_objects: usize,
    #[serde(default)]
    pub logs: Vec<RoundObject>,
}

/// The rounds one call planned, as its output reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    pub log_objects: Vec<String>,
    pub song_objects: usize,
    /// Listed keys that cannot be loaded safely (reported, never loaded): the first
    /// [`SKIPPED_SHOWN`], and how many there were in all.
    pub skipped: Vec<Skipped>,
    pub skipped_total: usize,
    /// Log objects left out because they are in quarantine with the ETag they have now: the
    /// first [`SKIPPED_SHOWN`], and how many there were.
    #[serde(default)]
    pub in_quarantine: Vec<String>,
    #[serde(default)]
    pub in_quarantine_total: usize,
}

/// Skipped keys an output lists (the state machine's state is limited to 256 KB).
pub const SKIPPED_SHOWN: usize = 20;

impl Planned {
    /// What two rounds planned in one call stage together. Each round lists the log prefix
    /// again, so a key skipped in both counts once.
    fn merge(earlier: Option<Self>, later: Option<Self>) -> Option<Self> {
        let (mut earlier, later) = match (earlier, later) {
            (Some(earlier), Some(later)) => (earlier, later),
            (one, other) => return one.or(other),
        };
        earlier.log_objects.extend(later.log_objects);
        earlier.song_objects += later.song_objects;
        let seen = earlier.skipped_total;
        let new: Vec<Skipped> = later
            .skipped
            .into_iter()
            .filter(|skip| !earlier.skipped.contains(skip))
            .collect();
        earlier.skipped_total = seen.max(later.skipped_total);
        earlier.skipped.extend(new);
        earlier.skipped.truncate(SKIPPED_SHOWN);
        // Each plan reads the quarantine again: the later plan's figure is the run's.
        earlier.in_quarantine_total = earlier.in_quarantine_total.max(later.in_quarantine_total);
        for key in later.in_quarantine {
            if !earlier.in_quarantine.contains(&key) {
                earlier.in_quarantine.push(key);
            }
        }
        earlier.in_quarantine.truncate(SKIPPED_SHOWN);
        Some(earlier)
    }
}

pub async fn handle(deps: &Deps, s3: &S3Client, input: Input) -> Result<Output, EtlError> {
    let deadline = deps.data_api.deadline();
    let at = At {
        deps,
        s3,
        step: &input.step,
        trigger: Trigger::from_execution_input(&input.trigger, &deps.config.source)?,
        run: RunId::from_execution(&input.step.execution).map_err(EtlError::InvalidInput)?,
    };
    let statement_id = match (&input.step.statement_id, input.phase) {
        (Some(id), Some(phase)) if phase != Phase::List => id,
        (Some(_), None) => {
            return Err(EtlError::InvalidInput(
                "a statement_id needs its phase (record, plan, copy or quarantine)".into(),
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

/// What one call works with.
struct At<'a> {
    deps: &'a Deps,
    s3: &'a S3Client,
    step: &'a StepInput,
    trigger: Trigger,
    run: RunId,
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

    /// Goes on from where `carried.listing` is: lists on (for at most [`listing::LIST_SECONDS`]),
    /// records the listing once it is written in full, or plans round `round` once it is recorded.
    async fn go_on(
        &self,
        round: u32,
        staged: Vec<Moved>,
        mut carried: Carried,
    ) -> Result<Output, EtlError> {
        if !carried.listing.is_listed() {
            let until = Instant::now() + std::time::Duration::from_secs(listing::LIST_SECONDS);
            let source = &self.deps.config.source;
            carried.listing = listing::resume(
                self.s3,
                source,
                &self.trigger,
                &self.run,
                carried.listing,
                until,
            )
            .await?;
            if !carried.listing.is_listed() {
                tracing::info!(
                    step = STEP,
                    parts = carried.listing.parts,
                    objects = carried.listing.objects,
                    "the listing goes on in the next call"
                );
                let mut out = output(
                    self.step.attempt,
                    "",
                    "LISTING".into(),
                    Phase::List,
                    round,
                    false,
                    staged,
                );
                out.carried = carried;
                return Ok(out);
            }
        }
        if carried.listing.stage == Stage::Recorded {
            return self.submit_plan(round, staged, carried).await;
        }
        if carried.listing.objects == 0 {
            tracing::info!(
                step = STEP,
                skipped = carried.listing.skipped_total,
                "nothing listed: nothing to load"
            );
            let mut out = self.finished("", Phase::List, round, staged, carried);
            out.planned = Some(planned(&Round::default(), &out.carried.listing));
            return Ok(out);
        }
        let source = &self.deps.config.source;
        let sqls = listing::record(self.s3, source, &self.run, &carried.listing).await?;
        let token = self.step.client_token(&format!("{STEP}/listing"));
        let id = self
            .deps
            .data_api
            .submit(sqls, &token, &format!("sparkify-{STEP}-listing"))
            .await?;
        tracing::info!(step = STEP, statement_id = %id, parts = carried.listing.parts, objects = carried.listing.objects, "listing submitted to the warehouse");
        let mut out = output(
            self.step.attempt,
            &id,
            "SUBMITTED".into(),
            Phase::Record,
            round,
            false,
            staged,
        );
        out.carried = carried;
        Ok(out)
    }

    /// The step's last answer: done, having moved `staged`.
    fn finished(
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
            "FINISHED".into(),
            phase,
            round,
            false,
            staged,
        );
        out.step.done = true;
        out.step.moved = out.staged.clone();
        out.quarantine_cause = quarantine_cause(&carried);
        out.carried = carried;
        out
    }

    /// What follows the commit of `current`'s statement: after the listing's record, the first
    /// plan; after a plan, the round it plans (or the end, if it finds nothing to load); after a
    /// round, the next plan, or the end; after a quarantine, a new plan.
    async fn after_commit(
        &self,
        current: Output,
        rows_affected: Vec<i64>,
    ) -> Result<Output, EtlError> {
        let id = current.step.statement_id.as_str();
        match current.phase {
            Phase::List => Err(EtlError::InvalidInput(
                "a listing has no statement to commit".into(),
            )),
            Phase::Record => {
                tracing::info!(
                    step = STEP,
                    objects = current.carried.listing.objects,
                    "listing recorded"
                );
                let mut carried = current.carried;
                carried.listing.stage = Stage::Recorded;
                carried.listing.after = None;
                self.submit_plan(current.round, current.staged, carried)
                    .await
            }
            Phase::Plan => {
                let round = read_plan(self.deps, id).await?;
                for key in &round.in_quarantine {
                    tracing::warn!(step = STEP, key = %key, "left out: in quarantine with this ETag");
                }
                if round.is_empty() {
                    tracing::info!(
                        step = STEP,
                        round = current.round,
                        in_quarantine = round.in_quarantine_total,
                        "nothing left to load"
                    );
                    let mut out = self.finished(
                        id,
                        current.phase,
                        current.round,
                        current.staged,
                        current.carried,
                    );
                    out.planned = Some(planned(&round, &out.carried.listing));
                    return Ok(out);
                }
                submit_round(
                    self,
                    current.round,
                    round,
                    (current.staged, current.carried),
                )
                .await
            }
            Phase::Copy => {
                let committed = round_moved(&current.round_objects, &rows_affected)?;
                tracing::info!(step = STEP, round = current.round, rows_affected = ?rows_affected, "round committed");
                let staged = add_round(current.staged.clone(), committed);
                if current.more {
                    return self
                        .submit_plan(current.round + 1, staged, current.carried)
                        .await;
                }
                tracing::info!(step = STEP, round = current.round, "every object is staged");
                let mut out =
                    self.finished(id, current.phase, current.round, staged, current.carried);
                out.step.rows_affected = rows_affected;
                Ok(out)
            }
            Phase::Quarantine => {
                tracing::info!(
                    step = STEP,
                    round = current.round,
                    "quarantine recorded; planning the rest again"
                );
                self.submit_plan(current.round + 1, current.staged, current.carried)
                    .await
            }
        }
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
        },
        phase,
        round,
        more,
        staged,
        round_objects: RoundObjects::default(),
        planned: None,
        carried: Carried::default(),
        quarantine_cause: None,
    }
}

/// What a committed round staged: its events and the log objects they came from, its songs and
/// their objects. Which statements of the batch stage the rows follows from the round's objects.
fn round_moved(objects: &RoundObjects, rows_affected: &[i64]) -> Result<Vec<Moved>, EtlError> {
    let counted = [
        ("events", catalogue::EVENTS_STAGE),
        ("songs", catalogue::COPY_STAGING_SONGS),
    ];
    let rows = sparkify::step::moved(&counted, &round_files(objects), rows_affected)?;
    let sources = [
        ("log objects", objects.log_objects),
        ("song objects", objects.song_objects),
    ]
    .map(|(what, count)| {
        i64::try_from(count)
            .map(|count| Moved::new(what, count))
            .map_err(|_| EtlError::InvalidInput(format!("round_objects: {count} {what}")))
    });
    let mut figures = Vec::with_capacity(4);
    for (rows, source) in rows.into_iter().zip(sources) {
        figures.extend([rows, source?]);
    }
    Ok(figures)
}

/// `staged` with a committed round's figures added, kind by kind, in the order each kind came.
fn add_round(mut staged: Vec<Moved>, round: Vec<Moved>) -> Vec<Moved> {
    for figure in round {
        match staged.iter_mut().find(|total| total.what == figure.what) {
            Some(total) => total.count += figure.count,
            None => staged.push(figure),
        }
    }
    staged
}

fn planned(round: &Round, listing: &Listing) -> Planned {
    Planned {
        skipped: listing.skipped.clone(),
        skipped_total: listing.skipped_total,
        in_quarantine: round.in_quarantine.clone(),
        in_quarantine_total: round.in_quarantine_total,
        log_objects: round
            .events
            .iter()
            .map(|o| o.key.as_str().to_owned())
            .collect(),
        song_objects: round.songs.len(),
    }
}

impl At<'_> {
    /// Submits round `round`'s plan query; `staged` is what the earlier rounds staged.
    async fn submit_plan(
        &self,
        round: u32,
        staged: Vec<Moved>,
        carried: Carried,
    ) -> Result<Output, EtlError> {
        let sqls = plan::statements(&self.run)?;
        let token = self.step.client_token(&format!("{STEP}/plan/{round}"));
        let id = self
            .deps
            .data_api
            .submit(sqls, &token, &format!("sparkify-{STEP}-plan"))
            .await?;
        tracing::info!(step = STEP, round, statement_id = %id, "plan submitted");
        let mut out = output(
            self.step.attempt,
            &id,
            "SUBMITTED".into(),
            Phase::Plan,
            round,
            false,
            staged,
        );
        out.carried = carried;
        Ok(out)
    }

    /// After round `current` failed with `err`: if the failure is one log object's content, that
    /// object is tried again in a round of its own, or, if it was alone already, put in
    /// quarantine. Anything else is not handled here (None).
    async fn after_poison(
        &self,
        current: &Output,
        err: &EtlError,
    ) -> Result<Option<Output>, EtlError> {
        let objects = &current.round_objects;
        let logs: Vec<&RoundObject> = objects.logs.iter().collect();
        let layout = round_layout(&logs, objects.song_objects > 0);
        let layout: Vec<(SqlFile, Option<&RoundObject>)> = layout
            .into_iter()
            .map(|(file, object)| (file, object.copied()))
            .collect();
        let Some((object, error)) = quarantine::poison(&layout, err) else {
            return Ok(None);
        };
        if current.carried.quarantined_count >= quarantine::MAX_PER_RUN {
            tracing::error!(step = STEP, key = %object.key, "a log object failed for its content after the run's quarantine limit");
            return Err(quarantine::too_many(err));
        }
        let source = &self.deps.config.source;
        let next = current.round + 1;
        let (staged, carried) = (current.staged.clone(), current.carried.clone());
        if objects.logs.len() > 1 || objects.song_objects > 0 {
            tracing::warn!(step = STEP, round = current.round, key = %object.key, error = %error, "a log object's COPY failed for its content; trying it alone");
            let key = S3Key::parse(&object.key)
                .map_err(|why| EtlError::InvalidInput(format!("round_objects: {why}")))?;
            let alone = Round {
                events: vec![Listed {
                    key,
                    etag: object.etag.clone(),
                    size: object.size,
                }],
                songs: Vec::new(),
                // Whatever the failed round held is planned again after.
                more: true,
                ..Round::default()
            };
            return submit_round(self, next, alone, (staged, carried))
                .await
                .map(Some);
        }
        let reason = quarantine::reason(&error, source.max_load_errors);
        tracing::warn!(step = STEP, round = current.round, key = %object.key, reason = %reason, error = %error, "a log object's COPY failed alone for its content; putting it in quarantine");
        let seen_at = sparkify::sql::Timestamp::parse_utc(&now_rfc3339())
            .map_err(|why| EtlError::InvalidInput(format!("the time now: {why}")))?;
        let sqls = quarantine::statements(object, &reason, &error, &self.run, &seen_at)?;
        let token = self.step.client_token(&format!("{STEP}/quarantine/{next}"));
        let id = self
            .deps
            .data_api
            .submit(sqls, &token, &format!("sparkify-{STEP}-quarantine"))
            .await?;
        let mut out = output(
            self.step.attempt,
            &id,
            "SUBMITTED".into(),
            Phase::Quarantine,
            next,
            false,
            staged,
        );
        out.carried = carried;
        out.carried.quarantined_count += 1;
        if out.carried.quarantined.len() < SKIPPED_SHOWN {
            out.carried
                .quarantined
                .push(Quarantined::new(object, &error, source.max_load_errors));
        }
        Ok(Some(out))
    }
}

/// The failure a run that put objects in quarantine ends with, in words; None if it put none.
fn quarantine_cause(carried: &Carried) -> Option<String> {
    (carried.quarantined_count > 0).then(|| {
        EtlError::ObjectsQuarantined {
            count: carried.quarantined_count,
            keys: carried
                .quarantined
                .iter()
                .map(|q| format!("{} ({})", q.key, q.reason))
                .collect(),
        }
        .to_string()
    })
}

/// The round a finished plan batch describes (`plan.rs`): its three results.
async fn read_plan(deps: &Deps, statement_id: &str) -> Result<Round, EtlError> {
    let mut results = Vec::with_capacity(catalogue::PLAN.len());
    for n in 1..=catalogue::PLAN.len() {
        results.push(
            deps.data_api
                .result_rows(&format!("{statement_id}:{n}"))
                .await?,
        );
    }
    plan::round(&results[0], &results[1], &results[2]).map_err(|why| {
        EtlError::DataApiRejected(format!("GetStatementResult {statement_id}: {why}"))
    })
}

/// Writes the round's manifests and object list, then submits the round's batch; `staged` is what
/// the earlier rounds staged.
async fn submit_round(
    at: &At<'_>,
    number: u32,
    round: Round,
    (staged, carried): (Vec<Moved>, Carried),
) -> Result<Output, EtlError> {
    let (deps, s3, run) = (at.deps, at.s3, &at.run);
    let source = &deps.config.source;
    let folder = format!("manifests/{}/round-{number:03}/", run.as_str());
    let manifest_key = |name: String| {
        S3Key::parse(&format!("{folder}{name}")).map_err(|why| {
            EtlError::InvalidInput(format!("manifest key for run {}: {why}", run.as_str()))
        })
    };
    let staged_at = now_utc();
    let objects_key = manifest_key("objects.json".into())?;
    let body = objects::object_list(run.as_str(), &staged_at, &round.events, &round.songs);
    objects::put(s3, &source.manifest_bucket, &objects_key, body).await?;
    let mut event_manifests = Vec::with_capacity(round.events.len());
    for (index, object) in round.events.iter().enumerate() {
        let key = manifest_key(format!("events-{:02}.manifest", index + 1))?;
        let body = objects::manifest(&source.bucket, [&object.key]);
        objects::put(s3, &source.manifest_bucket, &key, body).await?;
        event_manifests.push(key);
    }
    let songs_manifest = if round.songs.is_empty() {
        None
    } else {
        let key = manifest_key("songs.manifest".into())?;
        let body = objects::manifest(&source.bucket, round.songs.iter().map(|o| &o.key));
        objects::put(s3, &source.manifest_bucket, &key, body).await?;
        Some(key)
    };
    let sqls = round_statements(
        source,
        run,
        &objects_key,
        &round.events,
        &event_manifests,
        songs_manifest.as_ref(),
    )?;
    let token = at.step.client_token(&format!("{STEP}/copy/{number}"));
    let id = deps
        .data_api
        .submit(sqls, &token, &format!("sparkify-{STEP}"))
        .await?;
    tracing::info!(
        step = STEP,
        round = number,
        statement_id = %id,
        log_objects = round.events.len(),
        song_objects = round.songs.len(),
        more = round.more,
        "round submitted"
    );
    let mut out = output(
        at.step.attempt,
        &id,
        "SUBMITTED".into(),
        Phase::Copy,
        number,
        round.more,
        staged,
    );
    out.round_objects = RoundObjects {
        log_objects: round.events.len(),
        song_objects: round.songs.len(),
        logs: round
            .events
            .iter()
            .map(|object| RoundObject {
                key: object.key.as_str().to_owned(),
                etag: object.etag.clone(),
                size: object.size,
            })
            .collect(),
    };
    out.planned = Some(planned(&round, &carried.listing));
    out.carried = carried;
    Ok(out)
}

/// The statements of a round's batch, in batch order (see `sql/copy/`): each one's catalogue
/// file, and the log object it loads or tags where it is one of a log object's pair. The one
/// layout both the batch ([`round_statements`]) and the reading of its rows ([`round_files`])
/// follow.
fn round_layout<T>(log_objects: &[T], with_songs: bool) -> Vec<(SqlFile, Option<&T>)> {
    // Every round locks what it touches first, in the pipeline's one lock order.
    let lock = if with_songs {
        catalogue::LOCK_CATALOGUE
    } else {
        catalogue::LOCK_ROUND
    };
    let mut layout = vec![(lock, None), (catalogue::COPY_STAGING_FILES, None)];
    if !log_objects.is_empty() {
        layout.push((catalogue::EVENTS_LOAD_CREATE, None));
        for object in log_objects {
            layout.push((catalogue::COPY_STAGING_EVENTS, Some(object)));
            layout.push((catalogue::EVENTS_LOAD_TAG, Some(object)));
        }
        layout.push((catalogue::EVENTS_STAGE, None));
    }
    if with_songs {
        layout.push((catalogue::SONGS_LOAD_CREATE, None));
        layout.push((catalogue::COPY_STAGING_SONGS, None));
        layout.extend(catalogue::SONGS_PUBLISH.map(|file| (file, None)));
    }
    layout
}

/// The catalogue file of each statement of the batch of a round with these objects.
fn round_files(objects: &RoundObjects) -> Vec<SqlFile> {
    round_layout(&vec![(); objects.log_objects], objects.song_objects > 0)
        .into_iter()
        .map(|(file, _)| file)
        .collect()
}

/// The round's batch (see `sql/copy/`), at most 40 statements.
pub fn round_statements(
    source: &DataSource,
    run: &RunId,
    objects_key: &S3Key,
    events: &[Listed],
    event_manifests: &[S3Key],
    songs_manifest: Option<&S3Key>,
) -> Result<Vec<String>, EtlError> {
    // What every COPY names besides its source.
    let with_access = |mut values: Vec<(&'static str, Literal)>| {
        values.push(("copy_role_arn", Literal::role(&source.copy_role_arn)));
        values.push(("region", Literal::region(&source.region)));
        values
    };
    let logs: Vec<(&Listed, &S3Key)> = events.iter().zip(event_manifests).collect();
    round_layout(&logs, songs_manifest.is_some())
        .into_iter()
        .map(|(file, log)| {
            let values = match (file, log, songs_manifest) {
                (catalogue::COPY_STAGING_FILES, ..) => with_access(vec![(
                    "objects_source",
                    Literal::s3_uri(&source.manifest_bucket, objects_key),
                )]),
                (catalogue::COPY_STAGING_EVENTS, Some((_, manifest)), _) => with_access(vec![
                    (
                        "manifest",
                        Literal::s3_uri(&source.manifest_bucket, manifest),
                    ),
                    (
                        "jsonpaths",
                        Literal::s3_uri(&source.bucket, &source.jsonpaths_key),
                    ),
                    ("max_errors", Literal::count(source.max_load_errors)),
                ]),
                (catalogue::EVENTS_LOAD_TAG, Some((object, _)), _) => vec![
                    ("run", Literal::run(run)),
                    ("object_key", Literal::key(&object.key)),
                ],
                (catalogue::COPY_STAGING_SONGS, _, Some(manifest)) => with_access(vec![
                    (
                        "manifest",
                        Literal::s3_uri(&source.manifest_bucket, manifest),
                    ),
                    ("max_errors", Literal::count(source.max_load_errors)),
                ]),
                _ if file.text.contains("{{run}}") => vec![("run", Literal::run(run))],
                _ => Vec::new(),
            };
            render(&file, &values)
        })
        .collect()
}

/// Now, UTC, as `YYYY-MM-DD HH:MI:SS` (COPY's default TIMEFORMAT).
fn now_utc() -> String {
    let text = now_rfc3339();
    // RFC 3339: 2026-11-22T10:00:00Z or with a fraction.
    text.get(..19).unwrap_or(&text).replace('T', " ")
}

/// Now, UTC, in RFC 3339 (`2026-11-22T10:00:00Z`, or with a fraction).
fn now_rfc3339() -> String {
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
    now.fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_redshiftdata::Client;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use serde_json::json;
    use sparkify::data_api::client_token;
    use sparkify::testing::{config, deps, submitted};

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
        // The round's manifest and its object list.
        assert_eq!(puts.num_calls(), 2);
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
    /// song object) and submits it (`copy-1`, described by `round_described`).
    fn first_round_rules(
        round_described: fn() -> aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput,
    ) -> Vec<aws_smithy_mocks::Rule> {
        let mut rules = plan_rules(
            "plan-1",
            1,
            vec!["log_data/2018/11/a.json".into()],
            vec!["song_data/A/A/A/TRAAA.json".into()],
        );
        let round = mock!(Client::batch_execute_statement)
            .match_requests(|req| req.sqls().len() > 3)
            .then_output(|| submitted("copy-1"));
        let described_round = mock!(Client::describe_statement)
            .match_requests(|req| req.id() == Some("copy-1"))
            .then_output(round_described);
        rules.extend([round, described_round]);
        rules
    }

    /// Dependencies for a call that plans round 1 and submits it; the rules say how often the
    /// plan and the round were submitted and the round described.
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

    /// With a statement wait, one call goes from the plan to its round to the end as each
    /// commits: no Wait state at all.
    #[tokio::test]
    async fn within_the_statement_wait_one_call_plans_stages_and_finishes() {
        use aws_sdk_redshiftdata::types::{StatementStatusString as Sub, StatusString};
        let (deps, s3, [plan, round, staged]) = one_round(|| {
            // The lock, the object list, then the log object's 7 events (COPY, tag, stage) and
            // the song object's song (COPY, then its upsert and ledger rows).
            let rows = [-1, 2, -1, 7, 7, 7, -1, 1, 0, 1, 0, 1];
            sparkify::testing::described(
                "copy-1",
                StatusString::Finished,
                &rows.map(|rows| (Sub::Finished, rows, None)),
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
        // The output still says what the call planned, though a later state came after it.
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
            (
                "copy-1",
                Phase::Copy,
                1,
                vec![-1, 2, -1, 7, 7, 7, -1, 1, 0, 1, 0, 1]
            )
        );
        assert_eq!(
            (plan.num_calls(), round.num_calls(), staged.num_calls()),
            (1, 1, 1)
        );
    }

    /// Mocks for a nightly run of two rounds: 16 log objects and 2 song objects listed, so round 1
    /// stages 15 log objects and the songs (40 statements, each affecting 10 rows) and round 2
    /// the last log object (6 statements, each affecting 3 rows). Every statement commits at once
    /// and the statement wait is 5 s, so one call can go through both rounds.
    fn two_rounds() -> (Deps, S3Client) {
        use aws_sdk_redshiftdata::types::{StatementStatusString as Sub, StatusString};
        use sparkify::testing::described;

        let log_key = |i: usize| format!("log_data/2018/11/2018-11-{i:02}-events.json");
        let submits = |id: &'static str, is_it: fn(&[String]) -> bool| {
            mock!(Client::batch_execute_statement)
                .match_requests(move |req| is_it(req.sqls()))
                .then_output(move || submitted(id))
        };
        let round_one = submits("copy-1", |sqls| {
            sqls.len() > 3 && sqls[1].contains("/round-001/")
        });
        let round_two = submits("copy-2", |sqls| {
            sqls.len() > 3 && sqls[1].contains("/round-002/")
        });
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
        // The warehouse plans 15 of the 16 log objects and both songs in round 1 (and says
        // there are more), then the 16th in round 2.
        let mut rules = plan_rules(
            "plan-1",
            1,
            (1..=16).map(log_key).collect(),
            vec![
                "song_data/A/A/A/TRAAA.json".into(),
                "song_data/A/A/B/TRAAB.json".into(),
            ],
        );
        rules.extend(plan_rules("plan-2", 2, vec![log_key(16)], Vec::new()));
        rules.extend([
            round_one,
            round_two,
            finished("copy-1", 40, 10),
            finished("copy-2", 6, 3),
        ]);
        let client = mock_client!(aws_sdk_redshiftdata, RuleMode::MatchAny, &rules);
        let no_listing = mock!(aws_sdk_s3::Client::list_objects_v2).then_output(|| {
            aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output::builder().build()
        });
        following(client, &no_listing)
    }

    /// Both rounds' rows and objects: 10 events from round 1 and 3 from round 2, from 15 + 1 log
    /// objects; 10 songs from 2 song objects, all in round 1.
    const BOTH_ROUNDS: [(&str, i64); 4] = [
        ("events", 13),
        ("log objects", 16),
        ("songs", 10),
        ("song objects", 2),
    ];

    /// The step moved what every round staged, not what its last round did.
    #[tokio::test]
    async fn two_rounds_committed_in_one_call_moved_what_both_staged() {
        let (deps, s3) = two_rounds();
        let out = handle(&deps, &s3, recorded_call(0)).await.unwrap();
        assert!(out.step.done, "{out:?}");
        assert_eq!((out.round, out.step.statement_id.as_str()), (2, "copy-2"));
        assert_eq!(figures(&out.step.moved), BOTH_ROUNDS);
        assert_eq!(out.staged, out.step.moved);
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

    #[test]
    fn the_cause_of_a_run_that_quarantined_names_the_objects_and_their_reasons() {
        let mut carried = Carried::default();
        assert_eq!(quarantine_cause(&carried), None);
        carried.quarantined_count = 1;
        carried.quarantined.push(Quarantined {
            key: "log_data/x.json".into(),
            etag: "e".into(),
            size: 1,
            reason: "a JSON object larger than 4 MB".into(),
            error: "e".into(),
        });
        let cause = quarantine_cause(&carried).unwrap();
        assert!(
            cause.starts_with("1 log object(s) failed COPY for their content"),
            "{cause}"
        );
        assert!(
            cause.contains("log_data/x.json (a JSON object larger than 4 MB)"),
            "{cause}"
        );
    }

    /// A round that lost a serialization conflict is planned and staged again with what the
    /// earlier rounds staged, as the state machine's CopyStagingResubmit keeps it: counted once.
    #[tokio::test]
    async fn a_resubmitted_round_adds_to_the_earlier_rounds_once() {
        let (deps, s3) = two_rounds();
        let mut resubmitted = recorded_call(2);
        resubmitted.step.attempt = 1;
        resubmitted.staged = [
            ("events", 10),
            ("log objects", 15),
            ("songs", 10),
            ("song objects", 2),
        ]
        .map(|(what, count)| Moved::new(what, count))
        .to_vec();
        let out = handle(&deps, &s3, resubmitted).await.unwrap();
        assert!(out.step.done, "{out:?}");
        assert_eq!(figures(&out.step.moved), BOTH_ROUNDS);
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
    fn rounds_planned_in_one_call_are_reported_together() {
        let skip = |key: &str| Skipped {
            key: key.into(),
            reason: "r".into(),
        };
        let round = |logs: &[&str], songs, skipped: Vec<Skipped>| Planned {
            log_objects: logs.iter().map(|k| (*k).to_owned()).collect(),
            song_objects: songs,
            skipped_total: skipped.len(),
            skipped,
            in_quarantine: Vec::new(),
            in_quarantine_total: 0,
        };
        let first = round(
            &["log_data/a"],
            3,
            vec![skip("log_data/x\n"), skip("song_data/y\n")],
        );
        let second = round(&["log_data/b"], 0, vec![skip("log_data/x\n")]);
        let both = Planned::merge(Some(first.clone()), Some(second)).unwrap();
        assert_eq!(both.log_objects, vec!["log_data/a", "log_data/b"]);
        assert_eq!(
            (both.song_objects, both.skipped_total, both.skipped.len()),
            (3, 2, 2)
        );
        assert_eq!(
            Planned::merge(None, Some(first.clone())),
            Some(first.clone())
        );
        assert_eq!(Planned::merge(Some(first.clone()), None), Some(first));
        assert_eq!(Planned::merge(None, None), None);
    }

    fn listed(key: &str) -> Listed {
        Listed {
            key: S3Key::parse(key).unwrap(),
            etag: "e".into(),
            size: 1,
        }
    }

    fn key(text: &str) -> S3Key {
        S3Key::parse(text).unwrap()
    }

    #[test]
    fn a_full_round_fits_the_data_apis_forty_statements_and_quotes_every_key() {
        let source = config().source;
        let run = RunId::from_execution("arn:aws:states:us-west-2:1:execution:sm:run-1").unwrap();
        let events: Vec<Listed> = (0..plan::MAX_LOG_OBJECTS_PER_ROUND)
            .map(|i| listed(&format!("log_data/x'; DROP TABLE users; --{i}.json")))
            .collect();
        let manifests: Vec<S3Key> = (0..events.len())
            .map(|i| key(&format!("manifests/run-1/round-001/events-{i:02}.manifest")))
            .collect();
        let sqls = round_statements(
            &source,
            &run,
            &key("manifests/run-1/round-001/objects.json"),
            &events,
            &manifests,
            Some(&key("manifests/run-1/round-001/songs.manifest")),
        )
        .unwrap();
        assert_eq!(sqls.len(), 40);
        assert!(
            sqls[0].starts_with("-- First statement")
                && sqls[0]
                    .contains("LOCK load_ledger, staging_files, staging_events, staging_songs;")
        );
        assert!(sqls[1].contains("COPY staging_files"));
        assert!(
            sqls[1].contains("FROM 's3://sparkify-work/manifests/run-1/round-001/objects.json'")
        );
        assert!(sqls[3].contains("MANIFEST") && sqls[3].contains("events-00.manifest"));
        assert!(sqls[4].contains(
            "SET run_id = 'run-1', object_key = 'log_data/x''; DROP TABLE users; --0.json'"
        ));
        assert!(sqls.iter().all(|sql| !sql.contains("{{")));
        assert!(sqls[39].contains("INSERT INTO load_ledger"));
    }

    #[test]
    fn a_round_without_songs_locks_only_what_it_writes_and_touches_no_catalogue() {
        let source = config().source;
        let run = RunId::from_execution("run-2").unwrap();
        let sqls = round_statements(
            &source,
            &run,
            &key("manifests/run-2/round-001/objects.json"),
            &[listed("log_data/a.json")],
            &[key("manifests/run-2/round-001/events-01.manifest")],
            None,
        )
        .unwrap();
        assert_eq!(sqls.len(), 6);
        assert!(sqls[0].contains("LOCK staging_files, staging_events;"));
        assert!(sqls.iter().all(|sql| !sql.contains("staging_songs")));
    }

    #[test]
    fn now_is_copys_default_time_format() {
        let now = now_utc();
        assert_eq!(now.len(), 19, "{now}");
        assert_eq!(&now[10..11], " ");
    }
}
