//! The protocol every step follows with the state machine. The first call (no `statement_id`)
//! submits the step's batch and returns its id at once; each later call, after the state machine's
//! Wait, reports where that statement stands. A step never resubmits: a retried first call sends the
//! same client token and gets the same statement back.

use crate::data_api::{DataApi, Progress, client_token};
use crate::error::EtlError;
use crate::sql::{RunId, SqlFile, render_for_run};
use serde::{Deserialize, Serialize};

/// What the state machine sends every step besides its own fields.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StepInput {
    /// The execution ARN (`$$.Execution.Id`), or any run name when invoked by hand.
    pub execution: String,
    /// Absent or null on the first call; the id the first call returned on every later one.
    #[serde(default)]
    pub statement_id: Option<String>,
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
}

/// Submits the batch `plan` builds (first call) or reports on `input.statement_id` (later calls).
/// `plan` runs only on the first call, so a resumed step never re-reads its trigger.
pub async fn advance(
    api: &DataApi,
    step: &str,
    input: &StepInput,
    plan: impl FnOnce() -> Result<Vec<String>, EtlError>,
) -> Result<StepOutput, EtlError> {
    let Some(statement_id) = &input.statement_id else {
        let sqls = plan()?;
        let token = client_token(&input.execution, step);
        let statement_id = api
            .submit(sqls, &token, &format!("sparkify-{step}"))
            .await?;
        tracing::info!(step, statement_id = %statement_id, "batch submitted");
        return Ok(StepOutput {
            step: step.to_owned(),
            statement_id,
            status: "SUBMITTED".to_owned(),
            done: false,
            rows_affected: Vec::new(),
        });
    };
    let progress = api.progress(statement_id).await.inspect_err(|err| {
        tracing::error!(step, statement_id = %statement_id, error = err.name(), "batch did not commit");
    })?;
    let (status, done, rows_affected) = match progress {
        Progress::Running { status } => (status, false, Vec::new()),
        Progress::Finished { rows_affected } => ("FINISHED".to_owned(), true, rows_affected),
    };
    tracing::info!(step, statement_id = %statement_id, status = %status, "batch status");
    Ok(StepOutput {
        step: step.to_owned(),
        statement_id: statement_id.clone(),
        status,
        done,
        rows_affected,
    })
}

/// [`advance`] for a step whose batch is a fixed list of catalogue files, each with the
/// execution's id where it has a `{{run}}` placeholder.
pub async fn advance_files(
    api: &DataApi,
    step: &str,
    input: &StepInput,
    files: &[SqlFile],
) -> Result<StepOutput, EtlError> {
    advance(api, step, input, || {
        let run = RunId::from_execution(&input.execution).map_err(EtlError::InvalidInput)?;
        render_for_run(files, &run)
    })
    .await
}
