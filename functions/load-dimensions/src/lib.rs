//! load-dimensions: writes again the users rows of the users whose events changed
//! (`changed_users`, which load-facts lists), from every published event, as one transaction
//! (`sql/dimensions/`). The songs and artists rows change with the catalogue, in copy-staging's
//! song rounds, and the time rows with the plays, in load-facts: each in the transaction that
//! changes what it is derived from.

use sparkify::metrics::Metrics;
use sparkify::sql::{SqlFile, catalogue};
use sparkify::step::advance_files;
use sparkify::{Deps, EtlError, StepInput, StepOutput};

pub const STEP: &str = "load-dimensions";

/// What the step reports it moved: the users rows it wrote.
pub const MOVED: [(&str, SqlFile); 1] = [("users", catalogue::USERS_INSERT)];

pub type Input = StepInput;

/// The function's name: its package's, the Handler the template gives it (`functions/bootstrap`).
pub const NAME: &str = env!("CARGO_PKG_NAME");

/// The Lambda: [`handle`] on the Lambda Runtime API (`sparkify::lambda::serve`), run by this
/// crate's binary (`cargo lambda watch`) and by the stack's one bootstrap (`functions/bootstrap`).
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    sparkify::lambda::serve(handle).await
}

pub async fn handle(deps: &Deps, input: Input) -> Result<StepOutput, EtlError> {
    let output = advance_files(
        &deps.data_api,
        STEP,
        &input,
        &catalogue::LOAD_DIMENSIONS,
        &deps.config.source.log_prefix,
        &MOVED,
    )
    .await?;
    if output.done {
        metrics_of(&output, &deps.config.pipeline).emit();
    }
    Ok(output)
}

/// The step's metric ([`sparkify::metrics`]): the users rows its committed batch wrote.
pub fn metrics_of(output: &StepOutput, pipeline: &str) -> Metrics {
    let mut metrics = Metrics::new(pipeline);
    metrics.put_moved(&output.moved);
    metrics
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_redshiftdata::Client;
    use aws_sdk_redshiftdata::types::{StatementStatusString as Sub, StatusString};
    use aws_smithy_mocks::{mock, mock_client};
    use sparkify::testing::{deps, described};

    fn resume() -> StepInput {
        StepInput {
            execution: "exec-1".into(),
            statement_id: Some("dims-1".into()),
            attempt: 0,
        }
    }

    #[tokio::test]
    async fn an_aborted_batch_is_statement_aborted() {
        let describe = mock!(Client::describe_statement)
            .then_output(|| described("dims-1", StatusString::Aborted, &[(Sub::Aborted, 0, None)]));
        let client = mock_client!(aws_sdk_redshiftdata, [&describe]);
        let err = handle(&deps(client), resume()).await.unwrap_err();
        assert_eq!(
            err,
            EtlError::StatementAborted {
                statement_id: "dims-1".into()
            }
        );
        assert_eq!(err.name(), "StatementAborted");
    }

    #[tokio::test]
    async fn a_throttled_status_read_is_retried_by_the_sdk_and_the_step_goes_on() {
        let describe = mock!(Client::describe_statement)
            .sequence()
            .http_status(
                400,
                Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into()),
            )
            .output(|| described("dims-1", StatusString::Started, &[]))
            .build();
        let client = mock_client!(aws_sdk_redshiftdata, [&describe]);
        let out = handle(&deps(client), resume()).await.unwrap();
        assert_eq!((out.status.as_str(), out.done), ("STARTED", false));
        assert!(
            out.moved.is_empty(),
            "a running batch has moved nothing yet"
        );
        assert_eq!(describe.num_calls(), 2);
    }

    /// The rows each statement of the batch affects on a first load of the full data set.
    const FIRST_LOAD: [i64; 5] = [-1, 96, 0, 96, 97];

    #[tokio::test]
    async fn a_finished_batch_reports_the_rows_each_statement_affected_and_what_it_moved() {
        let describe = mock!(Client::describe_statement).then_output(|| {
            let subs: Vec<_> = FIRST_LOAD
                .into_iter()
                .map(|rows| (Sub::Finished, rows, None))
                .collect();
            described("dims-1", StatusString::Finished, &subs)
        });
        let client = mock_client!(aws_sdk_redshiftdata, [&describe]);
        let out = handle(&deps(client), resume()).await.unwrap();
        assert!(out.done);
        assert_eq!(out.rows_affected, FIRST_LOAD);
        let moved: Vec<(&str, i64)> = out
            .moved
            .iter()
            .map(|moved| (moved.what.as_str(), moved.count))
            .collect();
        assert_eq!(moved, [("users", 96)]);
    }
}
