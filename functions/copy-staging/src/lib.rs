//! copy-staging: stages the S3 objects this execution loads, exactly once per object, in rounds the
//! state machine drives like any step (submit, then poll):
//!
//! 1. **plan**: a query reads what the warehouse knows (`sql/copy/known_objects.sql`: the ledger,
//!    and what this execution staged in earlier rounds);
//! 2. once it has finished, the function lists the prefixes (or HEADs the one new object), picks
//!    the round's objects (`plan.rs`), writes their manifests and object list to the manifest
//!    bucket, and submits the round as one batch: log rows land in `staging_events` tagged with
//!    the execution and their object, song rows replace their songs in the `staging_songs`
//!    catalogue and go into the ledger, and every object is recorded in `staging_files`;
//! 3. once the round has committed, a new plan starts if log objects were left over, and the step
//!    is done otherwise. A plan that finds nothing to load ends the step at once.

pub mod objects;
pub mod plan;

use aws_sdk_s3::Client as S3Client;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sparkify::config::DataSource;
use sparkify::data_api::Progress;
use sparkify::sql::{Literal, RunId, S3Key, catalogue, render, render_for_run};
use sparkify::trigger::Trigger;
use sparkify::{Deps, EtlError, StepInput, StepOutput};

use objects::Skipped;
use plan::{Known, Listed, Round};

pub const STEP: &str = "copy-staging";

/// Where a call is in the round: its statement is a plan query or a round's batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Plan,
    Copy,
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    #[serde(flatten)]
    pub step: StepOutput,
    pub phase: Phase,
    pub round: u32,
    pub more: bool,
    /// Set (not null) when a round has just been planned: what it stages.
    #[serde(default)]
    pub planned: Option<Planned>,
}

/// A planned round, as the output reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    pub log_objects: Vec<String>,
    pub song_objects: usize,
    /// Listed keys that cannot be loaded safely (reported, never loaded): the first
    /// [`SKIPPED_SHOWN`], and how many there were in all.
    pub skipped: Vec<Skipped>,
    pub skipped_total: usize,
}

/// Skipped keys an output lists (the state machine's state is limited to 256 KB).
pub const SKIPPED_SHOWN: usize = 20;

pub async fn handle(deps: &Deps, s3: &S3Client, input: Input) -> Result<Output, EtlError> {
    let source = &deps.config.source;
    let trigger = Trigger::from_execution_input(&input.trigger, source)?;
    let run = RunId::from_execution(&input.step.execution).map_err(EtlError::InvalidInput)?;
    let Some(statement_id) = &input.step.statement_id else {
        // Round 0 is the step's start; a later round comes back without a statement when its
        // batch lost a serialization conflict, and is planned again (under a new attempt's token).
        let round = input.round.max(1);
        tracing::info!(step = STEP, trigger = ?trigger, run = run.as_str(), round, attempt = input.step.attempt, "planning the load");
        return submit_plan(deps, &input, &run, round).await;
    };
    let phase = input.phase.ok_or_else(|| {
        EtlError::InvalidInput("a statement_id needs its phase (plan or copy)".into())
    })?;
    let progress = deps
        .data_api
        .progress(statement_id)
        .await
        .inspect_err(|err| {
            tracing::error!(step = STEP, statement_id = %statement_id, error = err.name(), "statement did not commit");
        })?;
    let rows_affected = match progress {
        Progress::Running { status } => {
            return Ok(output(
                &input,
                statement_id,
                status,
                false,
                phase,
                input.more,
            ));
        }
        Progress::Finished { rows_affected } => rows_affected,
    };
    match phase {
        Phase::Plan => {
            let known = read_known(deps, statement_id).await?;
            let (round, skipped) = list_and_plan(s3, source, &trigger, &known).await?;
            if round.is_empty() {
                tracing::info!(
                    step = STEP,
                    round = input.round,
                    skipped = skipped.len(),
                    "nothing left to load"
                );
                let mut out = output(&input, statement_id, "FINISHED".into(), true, phase, false);
                out.planned = Some(planned(&round, skipped));
                return Ok(out);
            }
            submit_round(deps, s3, &input, &run, round, skipped).await
        }
        Phase::Copy if input.more => submit_plan(deps, &input, &run, input.round + 1).await,
        Phase::Copy => {
            tracing::info!(step = STEP, round = input.round, "every object is staged");
            let mut out = output(&input, statement_id, "FINISHED".into(), true, phase, false);
            out.step.rows_affected = rows_affected;
            Ok(out)
        }
    }
}

fn output(
    input: &Input,
    statement_id: &str,
    status: String,
    done: bool,
    phase: Phase,
    more: bool,
) -> Output {
    Output {
        step: StepOutput {
            step: STEP.to_owned(),
            statement_id: statement_id.to_owned(),
            status,
            done,
            rows_affected: Vec::new(),
            attempt: input.step.attempt,
        },
        phase,
        round: input.round,
        more,
        planned: None,
    }
}

fn planned(round: &Round, mut skipped: Vec<Skipped>) -> Planned {
    let skipped_total = skipped.len();
    skipped.truncate(SKIPPED_SHOWN);
    Planned {
        skipped_total,
        log_objects: round
            .events
            .iter()
            .map(|o| o.key.as_str().to_owned())
            .collect(),
        song_objects: round.songs.len(),
        skipped,
    }
}

async fn submit_plan(
    deps: &Deps,
    input: &Input,
    run: &RunId,
    round: u32,
) -> Result<Output, EtlError> {
    let sql = render(&catalogue::KNOWN_OBJECTS, &[("run", Literal::run(run))])?;
    let token = input.step.client_token(&format!("{STEP}/plan/{round}"));
    let id = deps
        .data_api
        .submit(vec![sql], &token, &format!("sparkify-{STEP}-plan"))
        .await?;
    tracing::info!(step = STEP, round, statement_id = %id, "plan query submitted");
    let mut out = output(input, &id, "SUBMITTED".into(), false, Phase::Plan, false);
    out.round = round;
    Ok(out)
}

/// The planning query's rows: `(state, object_key, etag)` with state `loaded` or `staged`.
async fn read_known(deps: &Deps, statement_id: &str) -> Result<Known, EtlError> {
    use aws_sdk_redshiftdata::types::Field;
    let rows = deps
        .data_api
        .result_rows(&format!("{statement_id}:1"))
        .await?;
    let mut known = Known::default();
    for row in rows {
        match row.as_slice() {
            [
                Field::StringValue(state),
                Field::StringValue(key),
                Field::StringValue(etag),
            ] => {
                if state == "loaded" {
                    known.loaded.insert(key.clone(), etag.clone());
                } else {
                    known.staged.insert(key.clone());
                }
            }
            other => {
                return Err(EtlError::DataApiRejected(format!(
                    "GetStatementResult {statement_id}:1: expected (state, key, etag), got {other:?}"
                )));
            }
        }
    }
    Ok(known)
}

async fn list_and_plan(
    s3: &S3Client,
    source: &DataSource,
    trigger: &Trigger,
    known: &Known,
) -> Result<(Round, Vec<Skipped>), EtlError> {
    let (logs, mut skipped) = match trigger {
        Trigger::NewLogObject(key) => (vec![objects::head(s3, &source.bucket, key).await?], vec![]),
        Trigger::FullLoad | Trigger::Backfill { .. } => {
            objects::list(
                s3,
                &source.bucket,
                &source.log_prefix,
                &source.jsonpaths_key,
            )
            .await?
        }
    };
    let (songs, songs_skipped) = objects::list(
        s3,
        &source.bucket,
        &source.song_prefix,
        &source.jsonpaths_key,
    )
    .await?;
    skipped.extend(songs_skipped);
    for skip in &skipped {
        tracing::warn!(step = STEP, key = %skip.key, reason = %skip.reason, "object skipped");
    }
    Ok((plan::next_round(trigger, logs, songs, known), skipped))
}

/// Writes the round's manifests and object list, then submits the round's batch.
async fn submit_round(
    deps: &Deps,
    s3: &S3Client,
    input: &Input,
    run: &RunId,
    round: Round,
    skipped: Vec<Skipped>,
) -> Result<Output, EtlError> {
    let source = &deps.config.source;
    let folder = format!("manifests/{}/round-{:03}/", run.as_str(), input.round);
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
        let body = objects::manifest(&source.bucket, std::slice::from_ref(object));
        objects::put(s3, &source.manifest_bucket, &key, body).await?;
        event_manifests.push(key);
    }
    let songs_manifest = if round.songs.is_empty() {
        None
    } else {
        let key = manifest_key("songs.manifest".into())?;
        let body = objects::manifest(&source.bucket, &round.songs);
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
    let token = input
        .step
        .client_token(&format!("{STEP}/copy/{}", input.round));
    let id = deps
        .data_api
        .submit(sqls, &token, &format!("sparkify-{STEP}"))
        .await?;
    tracing::info!(
        step = STEP,
        round = input.round,
        statement_id = %id,
        log_objects = round.events.len(),
        song_objects = round.songs.len(),
        more = round.more,
        "round submitted"
    );
    let mut out = output(
        input,
        &id,
        "SUBMITTED".into(),
        false,
        Phase::Copy,
        round.more,
    );
    out.planned = Some(planned(&round, skipped));
    Ok(out)
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
    let access = || {
        [
            ("copy_role_arn", Literal::role(&source.copy_role_arn)),
            ("region", Literal::region(&source.region)),
        ]
    };
    let mut sqls = Vec::new();
    if songs_manifest.is_some() {
        sqls.push(render(&catalogue::LOCK_CATALOGUE, &[])?);
    }
    let mut values = vec![(
        "objects_source",
        Literal::s3_uri(&source.manifest_bucket, objects_key),
    )];
    values.extend(access());
    sqls.push(render(&catalogue::COPY_STAGING_FILES, &values)?);
    if !events.is_empty() {
        sqls.push(render(&catalogue::EVENTS_LOAD_CREATE, &[])?);
        for (object, manifest) in events.iter().zip(event_manifests) {
            let mut values = vec![
                (
                    "manifest",
                    Literal::s3_uri(&source.manifest_bucket, manifest),
                ),
                (
                    "jsonpaths",
                    Literal::s3_uri(&source.bucket, &source.jsonpaths_key),
                ),
                ("max_errors", Literal::count(source.max_load_errors)),
            ];
            values.extend(access());
            sqls.push(render(&catalogue::COPY_STAGING_EVENTS, &values)?);
            sqls.push(render(
                &catalogue::EVENTS_LOAD_TAG,
                &[
                    ("run", Literal::run(run)),
                    ("object_key", Literal::key(&object.key)),
                ],
            )?);
        }
        sqls.push(render(&catalogue::EVENTS_STAGE, &[])?);
    }
    if let Some(manifest) = songs_manifest {
        sqls.push(render(&catalogue::SONGS_LOAD_CREATE, &[])?);
        let mut values = vec![
            (
                "manifest",
                Literal::s3_uri(&source.manifest_bucket, manifest),
            ),
            ("max_errors", Literal::count(source.max_load_errors)),
        ];
        values.extend(access());
        sqls.push(render(&catalogue::COPY_STAGING_SONGS, &values)?);
        sqls.extend(render_for_run(&catalogue::SONGS_PUBLISH, run)?);
    }
    Ok(sqls)
}

/// Now, UTC, as `YYYY-MM-DD HH:MI:SS` (COPY's default TIMEFORMAT).
fn now_utc() -> String {
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
    let text = now
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default();
    // RFC 3339: 2026-11-22T10:00:00Z or with a fraction.
    text.get(..19).unwrap_or(&text).replace('T', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_redshiftdata::Client;
    use aws_smithy_mocks::{mock, mock_client};
    use serde_json::json;
    use sparkify::data_api::client_token;
    use sparkify::testing::{config, deps, submitted};

    fn no_s3() -> S3Client {
        mock_client!(aws_sdk_s3, [])
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
        }
    }

    #[tokio::test]
    async fn the_first_call_submits_the_plan_query_for_this_run_under_its_own_token() {
        let submit = mock!(Client::batch_execute_statement)
            .match_requests(|req| {
                req.sqls().len() == 1
                    && req.sqls()[0].contains("FROM staging_files WHERE run_id = 'run-7'")
                    && req.client_token()
                        == Some(
                            client_token(
                                "arn:aws:states:us-west-2:1:execution:sparkify-etl:run-7",
                                "copy-staging/plan/1",
                            )
                            .as_str(),
                        )
            })
            .then_output(|| submitted("plan-1"));
        let client = mock_client!(aws_sdk_redshiftdata, [&submit]);
        let out = handle(&deps(client), &no_s3(), first_call(json!({})))
            .await
            .unwrap();
        assert_eq!(
            (
                out.step.statement_id.as_str(),
                out.phase,
                out.round,
                out.step.done
            ),
            ("plan-1", Phase::Plan, 1, false)
        );
        assert_eq!(submit.num_calls(), 1);
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
            sqls[0].starts_with("-- First statement") && sqls[0].contains("LOCK staging_songs")
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
    fn a_round_without_songs_takes_no_lock_and_touches_no_catalogue() {
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
        assert_eq!(sqls.len(), 5);
        assert!(
            sqls.iter()
                .all(|sql| !sql.contains("LOCK") && !sql.contains("staging_songs"))
        );
    }

    #[test]
    fn now_is_copys_default_time_format() {
        let now = now_utc();
        assert_eq!(now.len(), 19, "{now}");
        assert_eq!(&now[10..11], " ");
    }
}
