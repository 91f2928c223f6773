//! The protocol every step follows with the state machine. The first call (no `statement_id`)
//! submits the step's batch and returns its id; each later call, after the state machine's Wait,
//! reports where that statement stands. Every call follows its statement for up to the
//! configured statement wait (`STATEMENT_WAIT_SECONDS`) before returning, so a batch that commits
//! within it needs no Wait at all. A step never resubmits: a retried first call sends the
//! same client token and gets the same statement back.
//!
//! The one exception is a batch that lost a serialization conflict: it was rolled back whole, so
//! the state machine clears `statement_id`, counts up `attempt` and calls again, and the step
//! submits the same batch under a client token of its own for that attempt.
//!
//! A step may ask a read-only question after its batch has committed (verify-counts asks the
//! ledger about the objects of the run's load errors): each call that needs it submits it again
//! under the question's own client token, and so follows the one statement.

use crate::data_api::{DataApi, Progress, client_token};
use crate::error::EtlError;
use crate::sql::{RunId, S3Key, SqlFile, render_for_run};
use serde::{Deserialize, Serialize};

/// What the state machine sends every step besides its own fields.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StepInput {
    /// The execution ARN (`$$.Execution.Id`), or any run name when invoked by hand.
    pub execution: String,
    /// Absent or null on the first call; the id the first call returned on every later one.
    #[serde(default)]
    pub statement_id: Option<String>,
    /// 0 for the first submission; the state machine counts it up each time it resubmits a batch
    /// that lost a serialization conflict.
    #[serde(default)]
    pub attempt: u32,
}

impl StepInput {
    /// The client token of this call's submission of `batch` (the step, or a part of it): stable
    /// across retries of the call, new for each attempt.
    pub fn client_token(&self, batch: &str) -> String {
        match self.attempt {
            0 => client_token(&self.execution, batch),
            n => client_token(&self.execution, &format!("{batch}/attempt/{n}")),
        }
    }
}

/// What every step returns: enough for the state machine's Choice and for people watching.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepOutput {
    pub step: String,
    pub statement_id: String,
    /// SUBMITTED, PICKED, STARTED or FINISHED.
    pub status: String,
    /// True once the batch has committed: the state machine moves on.
    pub done: bool,
    /// Rows each SQL of the batch affected, in order, once done (-1 where Redshift gives none).
    pub rows_affected: Vec<i64>,
    /// What the step moved, in the step's order, once done; empty before, and for a step that
    /// moves no rows of its own.
    pub moved: Vec<Moved>,
    /// The input's attempt, handed back so the state machine can count the next one.
    #[serde(default)]
    pub attempt: u32,
    /// When the step was done (RFC 3339, UTC: [`now_rfc3339`]), stamped by the call that found
    /// its work committed; null before. verify-counts times the run's steps by them.
    #[serde(default)]
    pub finished_at: Option<String>,
}

/// Now, UTC, as RFC 3339 with milliseconds (`2026-12-06T16:10:00.123Z`), the form of
/// `$$.Execution.StartTime`.
pub fn now_rfc3339() -> String {
    aws_smithy_types::DateTime::from_millis(crate::metrics::now_millis())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// Rows of one kind a step moved, for people watching: `{"what": "plays", "count": 333}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    /// A plural noun: `events`, `song objects`.
    pub what: String,
    pub count: i64,
}

impl Moved {
    pub fn new(what: &str, count: i64) -> Self {
        Self {
            what: what.to_owned(),
            count,
        }
    }
}

/// What a committed batch moved: for each `(what, file)` of `counted`, the rows its statements
/// from `file` affected. `batch` names the file of each statement, in batch order, and
/// `rows_affected` is the Data API's answer for that batch.
pub fn moved(
    counted: &[(&str, SqlFile)],
    batch: &[SqlFile],
    rows_affected: &[i64],
) -> Result<Vec<Moved>, EtlError> {
    if batch.len() != rows_affected.len() {
        return Err(EtlError::DataApiRejected(format!(
            "a batch of {} statements reported the rows of {}",
            batch.len(),
            rows_affected.len()
        )));
    }
    Ok(counted
        .iter()
        .map(|(what, file)| {
            let count = batch
                .iter()
                .zip(rows_affected)
                .filter(|(statement, _)| *statement == file)
                .map(|(_, rows)| rows)
                .sum();
            Moved::new(what, count)
        })
        .collect())
}

/// Submits the batch `plan` builds (first call) or reports on `input.statement_id` (later calls),
/// following the statement for up to the configured statement wait either way, so a batch that
/// commits within it is done in this call. `plan` runs only on the first call, so a resumed step
/// never re-reads its trigger.
pub async fn advance(
    api: &DataApi,
    step: &str,
    input: &StepInput,
    plan: impl FnOnce() -> Result<Vec<String>, EtlError>,
) -> Result<StepOutput, EtlError> {
    let deadline = api.deadline();
    let (statement_id, fresh) = match &input.statement_id {
        Some(id) => (id.clone(), false),
        None => {
            let sqls = plan()?;
            let token = input.client_token(step);
            let id = api
                .submit(sqls, &token, &format!("sparkify-{step}"))
                .await?;
            tracing::info!(step, statement_id = %id, "batch submitted");
            (id, true)
        }
    };
    let progress = api
        .settle(&statement_id, deadline, fresh)
        .await
        .inspect_err(|err| {
            tracing::error!(step, statement_id = %statement_id, error = err.name(), "batch did not commit");
        })?;
    let (status, done, rows_affected) = match progress {
        Progress::Running { status } => (status, false, Vec::new()),
        Progress::Finished { rows_affected } => ("FINISHED".to_owned(), true, rows_affected),
    };
    tracing::info!(step, statement_id = %statement_id, status = %status, rows_affected = ?rows_affected, "batch status");
    Ok(StepOutput {
        step: step.to_owned(),
        statement_id,
        status,
        done,
        rows_affected,
        moved: Vec::new(),
        attempt: input.attempt,
        finished_at: done.then(now_rfc3339),
    })
}

/// [`advance`] for a step whose batch is a fixed list of catalogue files, each with the
/// execution's id where it has a `{{run}}` placeholder; once done, it has moved the rows of the
/// `counted` files.
pub async fn advance_files(
    api: &DataApi,
    step: &str,
    input: &StepInput,
    files: &[SqlFile],
    log_prefix: &S3Key,
    counted: &[(&str, SqlFile)],
) -> Result<StepOutput, EtlError> {
    let mut out = advance(api, step, input, || {
        let run = RunId::from_execution(&input.execution).map_err(EtlError::InvalidInput)?;
        render_for_run(files, &run, log_prefix)
    })
    .await?;
    if out.done {
        out.moved = moved(counted, files, &out.rows_affected)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With a statement wait, a batch that commits within it is done in the call that submits
    /// it; without one, the first call returns at once.
    #[tokio::test]
    async fn a_batch_that_commits_within_the_wait_is_done_in_its_first_call() {
        use crate::testing::{config, described, submitted};
        use aws_sdk_redshiftdata::Client;
        use aws_sdk_redshiftdata::types::{StatementStatusString as Sub, StatusString};
        use aws_smithy_mocks::{RuleMode, mock, mock_client};

        let submit = mock!(Client::batch_execute_statement).then_output(|| submitted("b-1"));
        let describe = mock!(Client::describe_statement)
            .sequence()
            .output(|| described("b-1", StatusString::Started, &[(Sub::Started, 0, None)]))
            .output(|| described("b-1", StatusString::Finished, &[(Sub::Finished, 3, None)]))
            .build();
        let client = mock_client!(
            aws_sdk_redshiftdata,
            RuleMode::MatchAny,
            [&submit, &describe]
        );
        let first = StepInput {
            execution: "run-1".into(),
            statement_id: None,
            attempt: 0,
        };
        let mut warehouse = config().warehouse;
        warehouse.statement_wait = std::time::Duration::from_secs(5);
        let api = DataApi::new(client.clone(), warehouse);
        let out = advance(&api, "load-facts", &first, || Ok(vec!["SELECT 1".into()]))
            .await
            .unwrap();
        assert_eq!(
            (
                out.statement_id.as_str(),
                out.status.as_str(),
                out.done,
                out.rows_affected
            ),
            ("b-1", "FINISHED", true, vec![3])
        );
        assert_eq!(describe.num_calls(), 2);

        let api = DataApi::new(client, config().warehouse);
        let out = advance(&api, "load-facts", &first, || Ok(vec!["SELECT 1".into()]))
            .await
            .unwrap();
        assert_eq!((out.status.as_str(), out.done), ("SUBMITTED", false));
        assert_eq!(describe.num_calls(), 2);
    }

    #[test]
    fn a_batch_moved_the_rows_of_the_statements_of_each_counted_file() {
        use crate::sql::catalogue::{LOAD_FACTS, SONGPLAYS_INSERT, USERS_INSERT};
        let (lock, delete, insert) = (LOAD_FACTS[0], LOAD_FACTS[12], SONGPLAYS_INSERT);
        let batch = [lock, insert, delete, insert];
        let counted = [
            ("plays", insert),
            ("removed", delete),
            ("users", USERS_INSERT),
        ];
        assert_eq!(
            moved(&counted, &batch, &[-1, 3, 2, 4]).unwrap(),
            [
                Moved::new("plays", 7),
                Moved::new("removed", 2),
                Moved::new("users", 0)
            ]
        );
        let err = moved(&counted, &batch, &[-1, 3]).unwrap_err();
        assert_eq!(err.name(), "DataApiRejected");
    }

    #[test]
    fn each_attempt_has_a_token_of_its_own_and_the_first_keeps_the_plain_one() {
        let input = |attempt| StepInput {
            execution: "arn:aws:states:us-west-2:123456789012:execution:etl:run-1".into(),
            statement_id: None,
            attempt,
        };
        let plain = client_token(&input(0).execution, "load-facts");
        assert_eq!(input(0).client_token("load-facts"), plain);
        assert_ne!(input(1).client_token("load-facts"), plain);
        assert_ne!(
            input(1).client_token("load-facts"),
            input(2).client_token("load-facts")
        );
        assert_eq!(
            input(2).client_token("load-facts"),
            input(2).client_token("load-facts")
        );
    }
}
