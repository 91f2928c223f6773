//! create-tables: makes sure the staging, fact and dimension tables exist (creating the missing
//! ones, or dropping and creating all on a reset), grants the readers' database roles what they
//! may read, checks that the event store has this version's shape (a warehouse loaded by an older
//! version fails here, by name, and needs a reset), and removes the unpublished staging rows of
//! executions that ended without publishing them, as one transaction. On a warehouse that has its
//! tables the batch checks them first and then takes its locks before anything else ("lock all
//! tables at the beginning of the transaction"), with no CREATE; when one is missing, that check
//! fails and the batch that creates them first goes instead.

use serde::Deserialize;
use sparkify::config::Readers;
use sparkify::sql::{Literal, RunId, Timestamp, catalogue, render};
use sparkify::step::advance;
use sparkify::{Deps, EtlError, StepInput, StepOutput};

/// The step's name: in logs, in the statement name and in the client token.
pub const STEP: &str = "create-tables";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Input {
    #[serde(flatten)]
    pub step: StepInput,
    /// Drop every table first (`sql/reset/`). Only for invoking by hand: the state machine never
    /// sets it.
    #[serde(default)]
    pub reset: bool,
    /// The names of the state machine's executions running when this one started (this one
    /// among them), from the state machine's `ListExecutions`; absent or null when unknown, and
    /// then nothing is removed.
    #[serde(default)]
    pub running: Option<Vec<String>>,
    /// This execution's start time (`$$.Execution.StartTime`), with `running`.
    #[serde(default)]
    pub started: Option<String>,
}

/// The function's name: its package's, the Handler the template gives it (`functions/bootstrap`).
pub const NAME: &str = env!("CARGO_PKG_NAME");

/// The Lambda: [`handle`] on the Lambda Runtime API (`sparkify::lambda::serve`), run by this
/// crate's binary (`cargo lambda watch`) and by the stack's one bootstrap (`functions/bootstrap`).
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    sparkify::lambda::serve(handle).await
}

pub async fn handle(deps: &Deps, input: Input) -> Result<StepOutput, EtlError> {
    // A reset is a different batch, so it gets a client token of its own.
    if input.reset {
        return advance(&deps.data_api, "create-tables-reset", &input.step, || {
            batch(deps, &input, Tables::Creating)
        })
        .await;
    }
    match advance(&deps.data_api, STEP, &input.step, || {
        batch(deps, &input, Tables::Existing)
    })
    .await
    {
        // The guard, the batch's first statement, found a table missing (a new warehouse, or a
        // version that adds one): the batch that creates them goes instead, under a token of its
        // own, so a retried call gets it back.
        Err(EtlError::StatementFailed {
            sub_statement: Some(1),
            error,
            ..
        }) => {
            tracing::info!(step = STEP, error = %error, "not every table exists: creating them first");
            let creating = StepInput {
                statement_id: None,
                ..input.step.clone()
            };
            advance(&deps.data_api, CREATING, &creating, || {
                batch(deps, &input, Tables::Creating)
            })
            .await
        }
        other => other,
    }
}

/// The step's name for the batch that creates missing tables: its token and statement name.
pub const CREATING: &str = "create-tables-creating";

/// Whether the batch may take the tables to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tables {
    /// Checked by the batch's first statement (`sql/create/tables_exist.sql`): its locks come
    /// next, before anything else, and no CREATE runs.
    Existing,
    /// Some may be missing (or a reset drops them all): the CREATEs first, then the locks.
    /// Nothing else can hold a table that does not exist yet.
    Creating,
}

/// create-tables' batch: the tables (checked, or created), the lock, the readers' grants, the
/// shape check and the reap of what ended executions left. The lock is the grants' (every
/// table, in the one lock order) when readers are configured, else the reap's.
fn batch(deps: &Deps, input: &Input, tables: Tables) -> Result<Vec<String>, EtlError> {
    let grants = grants(&deps.config.readers)?;
    let mut reap = reap_statements(input)?.into_iter();
    let reap_lock = reap.next();
    let lock = if grants.is_empty() {
        reap_lock
    } else {
        Some(catalogue::GRANT_LOCK.text.to_owned())
    };
    let mut sqls = Vec::new();
    match tables {
        Tables::Existing => {
            sqls.push(catalogue::TABLES_EXIST.text.to_owned());
            sqls.extend(lock);
        }
        Tables::Creating => {
            let drop = input.reset.then_some(catalogue::DROP_TABLES);
            sqls.extend(
                drop.into_iter()
                    .chain(catalogue::CREATE_TABLES)
                    .map(|file| file.text.to_owned()),
            );
            sqls.extend(lock);
        }
    }
    sqls.extend(grants);
    // The shape check reads staging_events: after the lock (the reap's takes staging_files first
    // in the one lock order, the grants' every table), since a read of staging_events before it
    // could deadlock with a batch holding staging_files and waiting for staging_events.
    sqls.push(catalogue::EVENT_STORE_SHAPE.text.to_owned());
    sqls.extend(reap);
    Ok(sqls)
}

/// What the readers' database roles may do with the tables, granted again on every run (a grant
/// already held changes nothing), so a reset's new tables are granted too; after the grants' lock
/// ([`batch`]).
fn grants(readers: &Readers) -> Result<Vec<String>, EtlError> {
    let mut sqls = Vec::new();
    if let Some(role) = &readers.analysts {
        sqls.push(render(
            &catalogue::GRANT_ANALYSTS,
            &[("analysts", Literal::db_role(role))],
        )?);
    }
    if let Some(role) = &readers.operators {
        for file in &catalogue::GRANT_OPERATORS {
            sqls.push(render(file, &[("operators", Literal::db_role(role))])?);
        }
    }
    Ok(sqls)
}

/// The clean-up of ended executions' staging rows, when the input says which are still running
/// (`sql/reap/`); nothing after a reset, which dropped them all.
fn reap_statements(input: &Input) -> Result<Vec<String>, EtlError> {
    let (Some(running), Some(started), false) = (&input.running, &input.started, input.reset)
    else {
        return Ok(Vec::new());
    };
    let runs = running
        .iter()
        .map(|name| RunId::from_execution(name))
        .collect::<Result<Vec<_>, _>>()
        .map_err(EtlError::InvalidInput)?;
    let started = Timestamp::parse_utc(started).map_err(EtlError::InvalidInput)?;
    let Some(runs) = Literal::runs(&runs) else {
        // Not even this execution is listed: the list cannot be trusted.
        tracing::warn!(
            step = STEP,
            "no running executions listed: nothing is removed"
        );
        return Ok(Vec::new());
    };
    let lock = render(&catalogue::REAP_LOCK, &[])?;
    let deletes = catalogue::REAP_STAGING.iter().map(|file| {
        render(
            file,
            &[
                ("running", runs.clone()),
                ("started", Literal::timestamp(&started)),
            ],
        )
    });
    std::iter::once(Ok(lock)).chain(deletes).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_redshiftdata::Client;
    use aws_sdk_redshiftdata::types::{StatementStatusString as Sub, StatusString};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use sparkify::data_api::client_token;
    use sparkify::sql::DbRole;
    use sparkify::testing::{deps, described, submitted};

    fn input(statement_id: Option<&str>, reset: bool) -> Input {
        Input {
            step: StepInput {
                execution: "exec-1".into(),
                statement_id: statement_id.map(str::to_owned),
                attempt: 0,
            },
            reset,
            running: None,
            started: None,
        }
    }

    #[tokio::test]
    async fn first_call_checks_the_tables_and_creates_nothing_when_they_exist() {
        let submit = mock!(Client::batch_execute_statement)
            .match_requests(|req| {
                req.sqls().len() == 2
                    && req.sqls()[0].contains("FROM information_schema.tables")
                    && req.sqls()[1].contains(
                        "SELECT run_id, object_key, published, user_number, play_key, song_key FROM staging_events LIMIT 0;",
                    )
                    && req
                        .sqls()
                        .iter()
                        .all(|sql| !sql.lines().any(|line| line.starts_with("CREATE TABLE")))
                    && req.client_token() == Some(client_token("exec-1", STEP).as_str())
                    && req.cluster_identifier() == Some("sparkify")
                    && req.db_user() == Some("etl")
                    && req.database() == Some("dev")
            })
            .then_output(|| submitted("stmt-1"));
        let client = mock_client!(aws_sdk_redshiftdata, [&submit]);
        let out = handle(&deps(client), input(None, false)).await.unwrap();
        assert_eq!(out.statement_id, "stmt-1");
        assert_eq!(out.status, "SUBMITTED");
        assert!(!out.done);
        assert_eq!(submit.num_calls(), 1);
    }

    /// The guard names exactly the tables of the one lock order.
    #[test]
    fn the_guard_counts_the_tables_of_the_lock_order() {
        let guard = catalogue::TABLES_EXIST.text;
        let named = guard.split("IN (").nth(1).unwrap();
        for table in catalogue::LOCK_ORDER {
            assert!(named.contains(&format!("'{table}'")), "{table}");
        }
        assert_eq!(named.matches('\'').count(), 2 * catalogue::LOCK_ORDER.len());
        assert!(guard.contains(&format!("COUNT(*) = {}", catalogue::LOCK_ORDER.len())));
    }

    /// A missing table fails the guard, the batch's first statement: the batch that creates
    /// every table first goes instead, under its own token, and later calls follow it.
    #[tokio::test]
    async fn a_missing_table_sends_the_batch_that_creates_them_first() {
        let guarded = mock!(Client::batch_execute_statement)
            .match_requests(|req| req.sqls()[0].contains("FROM information_schema.tables"))
            .then_output(|| submitted("guarded"));
        let creating = mock!(Client::batch_execute_statement)
            .match_requests(|req| {
                let sqls = req.sqls();
                sqls.len() == 17
                    && sqls[0].contains("CREATE TABLE IF NOT EXISTS staging_events")
                    && sqls[2].contains("CREATE TABLE IF NOT EXISTS changed_songs")
                    && sqls[6].contains("CREATE TABLE IF NOT EXISTS load_quarantine")
                    && sqls[7].contains("CREATE TABLE IF NOT EXISTS load_listing")
                    && sqls[12].contains("CREATE TABLE IF NOT EXISTS songplays")
                    && sqls[13].contains("LOCK staging_files, staging_events;")
                    && sqls[14].contains("FROM staging_events LIMIT 0;")
                    && req.client_token() == Some(client_token("exec-1", CREATING).as_str())
            })
            .then_output(|| submitted("creating"));
        let describe = mock!(Client::describe_statement)
            .match_requests(|req| req.id() == Some("guarded"))
            .then_output(|| {
                described(
                    "guarded",
                    StatusString::Failed,
                    &[(
                        Sub::Failed,
                        0,
                        Some("ERROR: invalid input syntax for type integer: \"missing\""),
                    )],
                )
            });
        let client = mock_client!(
            aws_sdk_redshiftdata,
            RuleMode::MatchAny,
            [&guarded, &creating, &describe]
        );
        let deps = deps(client);
        let mut first = input(None, false);
        first.running = Some(vec!["exec-1".into()]);
        first.started = Some("2026-11-22T18:00:00Z".into());
        let out = handle(&deps, first.clone()).await.unwrap();
        assert_eq!(out.statement_id, "guarded");
        // The next call finds the guard failed: the batch that creates the tables goes instead.
        first.step.statement_id = Some(out.statement_id);
        let out = handle(&deps, first).await.unwrap();
        assert_eq!(out.statement_id, "creating");
        assert_eq!((guarded.num_calls(), creating.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn with_the_running_executions_it_also_removes_what_ended_ones_left_staged() {
        let submit = mock!(Client::batch_execute_statement)
            .match_requests(|req| {
                let sqls = req.sqls();
                // The guard, then the reap's lock before anything else.
                sqls.len() == 5
                    && sqls[0].contains("FROM information_schema.tables")
                    && sqls[1].contains("LOCK staging_files, staging_events;")
                    && sqls[2].contains("FROM staging_events LIMIT 0;")
                    && sqls[3].starts_with("-- Staged lines left by executions")
                    && sqls[3].contains("DELETE FROM staging_events")
                    && sqls[3].contains("WHERE NOT published")
                    && sqls[3].contains("NOT IN ('nightly-2', 'new-file-3')")
                    && sqls[3].contains("staged_at < CAST('2026-11-22 18:00:00.500' AS TIMESTAMP)")
                    && sqls[4].contains("DELETE FROM staging_files")
                    && sqls[4].contains("NOT IN ('nightly-2', 'new-file-3')")
            })
            .then_output(|| submitted("stmt-3"));
        let client = mock_client!(aws_sdk_redshiftdata, [&submit]);
        let mut first = input(None, false);
        first.running = Some(vec!["nightly-2".into(), "new-file-3".into()]);
        first.started = Some("2026-11-22T18:00:00.500Z".into());
        let out = handle(&deps(client), first.clone()).await.unwrap();
        assert_eq!(out.statement_id, "stmt-3");
        assert_eq!(submit.num_calls(), 1);

        // A start time that is not one is refused before anything is submitted.
        let client = mock_client!(aws_sdk_redshiftdata, [&submit]);
        first.started = Some("2026-11-22 18:00:00'; DROP TABLE users; --".into());
        let err = handle(&deps(client), first).await.unwrap_err();
        assert_eq!(err.name(), "InvalidInput");
        assert_eq!(submit.num_calls(), 1);
    }

    #[tokio::test]
    async fn the_readers_roles_are_granted_under_the_lock_taken_first_when_configured() {
        let submit = mock!(Client::batch_execute_statement)
            .match_requests(|req| {
                let sqls = req.sqls();
                // The guard, the grants' lock (every table, in the one order) before anything
                // else, the grants, the shape check and the reap, which that lock covers.
                sqls.len() == 8
                    && sqls[0].contains("FROM information_schema.tables")
                    && sqls[1].contains("LOCK load_listing, load_ledger,")
                    && sqls[1].contains("artists, time;")
                    && sqls[2].contains(
                        "GRANT SELECT ON TABLE songplays, users, songs, artists, time TO ROLE \"sparkify_reader\";",
                    )
                    && sqls[3].contains("load_listing, load_ledger, load_quarantine")
                    && sqls[3].contains("TO ROLE \"sparkify_operator\";")
                    && sqls[4].contains(
                        "GRANT DELETE ON TABLE load_quarantine TO ROLE \"sparkify_operator\";"
                    )
                    && sqls[5].contains("FROM staging_events LIMIT 0;")
                    && sqls[6].contains("DELETE FROM staging_events")
            })
            .then_output(|| submitted("stmt-4"));
        let client = mock_client!(aws_sdk_redshiftdata, [&submit]);
        let mut deps = deps(client);
        deps.config.readers = Readers {
            analysts: Some(DbRole::parse("sparkify_reader").unwrap()),
            operators: Some(DbRole::parse("sparkify_operator").unwrap()),
        };
        let mut first = input(None, false);
        first.running = Some(vec!["exec-1".into()]);
        first.started = Some("2026-11-22T18:00:00Z".into());
        let out = handle(&deps, first).await.unwrap();
        assert_eq!(out.statement_id, "stmt-4");
        assert_eq!(submit.num_calls(), 1);
    }

    #[tokio::test]
    async fn reset_drops_first_under_a_token_of_its_own() {
        let submit = mock!(Client::batch_execute_statement)
            .match_requests(|req| {
                req.sqls().len() == 15
                    && req.sqls()[0].contains("DROP TABLE IF EXISTS")
                    && req.sqls()[1].contains("CREATE TABLE IF NOT EXISTS staging_events")
                    && req.client_token()
                        == Some(client_token("exec-1", "create-tables-reset").as_str())
            })
            .then_output(|| submitted("stmt-2"));
        let client = mock_client!(aws_sdk_redshiftdata, [&submit]);
        let out = handle(&deps(client), input(None, true)).await.unwrap();
        assert_eq!(out.statement_id, "stmt-2");
    }

    #[tokio::test]
    async fn resumed_calls_follow_submitted_started_finished_without_resubmitting() {
        let submit = mock!(Client::batch_execute_statement).then_output(|| submitted("never"));
        let finished_subs = vec![(Sub::Finished, 0, None); 7];
        let describe = mock!(Client::describe_statement)
            .match_requests(|req| req.id() == Some("stmt-1"))
            .sequence()
            .output(|| described("stmt-1", StatusString::Submitted, &[]))
            .output(|| described("stmt-1", StatusString::Started, &[]))
            .output(move || described("stmt-1", StatusString::Finished, &finished_subs))
            .build();
        let client = mock_client!(
            aws_sdk_redshiftdata,
            RuleMode::MatchAny,
            [&submit, &describe]
        );
        let deps = deps(client);
        let mut seen = Vec::new();
        for _ in 0..3 {
            let out = handle(&deps, input(Some("stmt-1"), false)).await.unwrap();
            assert_eq!(out.statement_id, "stmt-1");
            seen.push((out.status, out.done));
        }
        assert_eq!(
            seen,
            [
                ("SUBMITTED".to_owned(), false),
                ("STARTED".to_owned(), false),
                ("FINISHED".to_owned(), true)
            ]
        );
        assert_eq!(submit.num_calls(), 0, "a resumed step must never resubmit");
    }
}
