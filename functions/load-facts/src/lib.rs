//! load-facts: publishes this execution's staged events and rewrites the plays they and the songs
//! the catalogue changed touch, as one transaction (`sql/facts/`): the earlier versions of its log
//! objects' lines leave the event store and its own lines join it, its log objects enter the
//! ledger, every play whose natural key those lines or the changed songs touch is derived again
//! from the whole event store (a play that waited for its song becomes a songplay here), and
//! the time dimension follows the plays. The users whose events changed are listed for
//! load-dimensions.

use sparkify::metrics::{Metrics, Name};
use sparkify::sql::{SqlFile, catalogue};
use sparkify::step::advance_files;
use sparkify::{Deps, EtlError, StepInput, StepOutput};

pub const STEP: &str = "load-facts";

/// What the step reports it moved: the plays it wrote, and the start times it added.
pub const MOVED: [(&str, SqlFile); 2] = [
    ("plays", catalogue::SONGPLAYS_INSERT),
    ("start times", catalogue::TIME_INSERT),
];

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
        &catalogue::LOAD_FACTS,
        &deps.config.source.log_prefix,
        &MOVED,
    )
    .await?;
    if output.done {
        metrics_of(&output, &deps.config.pipeline).emit();
    }
    Ok(output)
}

/// The step's metrics ([`sparkify::metrics`]): the plays its committed batch wrote (0 when it
/// wrote none: the freshness alarm counts them) and the start times it added.
pub fn metrics_of(output: &StepOutput, pipeline: &str) -> Metrics {
    let mut metrics = Metrics::new(pipeline);
    metrics
        .put(Name::PlaysWritten, 0.0)
        .put_moved(&output.moved);
    metrics
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_redshiftdata::Client;
    use aws_sdk_redshiftdata::types::{StatementStatusString as Sub, StatusString};
    use aws_smithy_mocks::{mock, mock_client};
    use sparkify::testing::{deps, described, submitted};

    #[test]
    fn the_metrics_are_the_plays_and_start_times_the_batch_wrote() {
        let output = StepOutput {
            step: STEP.into(),
            statement_id: "facts-1".into(),
            status: "FINISHED".into(),
            done: true,
            rows_affected: Vec::new(),
            moved: vec![
                sparkify::Moved::new("plays", 177),
                sparkify::Moved::new("start times", 170),
            ],
            attempt: 0,
            finished_at: Some("2026-12-06T03:00:10.123Z".into()),
        };
        let document = metrics_of(&output, "sparkify-prod").document(0);
        assert_eq!(document["PlaysWritten"], 177.0);
        assert_eq!(document["StartTimesWritten"], 170.0);
        assert_eq!(document["Pipeline"], "sparkify-prod");
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            serde_json::json!([
                {"Name": "PlaysWritten", "Unit": "Count"},
                {"Name": "StartTimesWritten", "Unit": "Count"}
            ])
        );
        // A batch that wrote no play still says so: the freshness alarm counts the zeros.
        let none = StepOutput {
            moved: Vec::new(),
            ..output
        };
        assert_eq!(metrics_of(&none, "p").document(0)["PlaysWritten"], 0.0);
    }

    #[tokio::test]
    async fn submits_the_lock_then_publishes_and_rewrites_the_plays_for_this_run() {
        let submit = mock!(Client::batch_execute_statement)
            .match_requests(|req| {
                let sqls = req.sqls();
                sqls.len() == 17
                    && sqls[0].contains("LOCK load_ledger, load_quarantine, staging_files, staging_events, staging_songs, changed_songs, changed_users, songplays, time;")
                    && sqls[1].contains("WHERE run_id = 'exec-1' AND kind = 'events'")
                    && sqls[5].contains("UPDATE staging_events")
                    && sqls[5].contains("WHERE run_id = 'exec-1' AND NOT published")
                    && sqls[12].contains("DELETE FROM songplays")
                    && sqls[13].contains("INSERT INTO songplays")
                    && sqls[15].contains("CREATE TEMP TABLE new_times")
                    && sqls[16].contains("INSERT INTO time")
            })
            .then_output(|| submitted("facts-1"));
        let client = mock_client!(aws_sdk_redshiftdata, [&submit]);
        let input = StepInput {
            execution: "exec-1".into(),
            statement_id: None,
            attempt: 0,
        };
        assert_eq!(
            handle(&deps(client), input).await.unwrap().statement_id,
            "facts-1"
        );
    }

    #[tokio::test]
    async fn a_committed_batch_moved_the_plays_it_inserted() {
        let describe = mock!(Client::describe_statement).then_output(|| {
            let mut rows = [0; 17];
            rows[0] = -1;
            rows[13] = 333;
            rows[16] = 330;
            let subs = rows.map(|rows| (Sub::Finished, rows, None));
            described("facts-1", StatusString::Finished, &subs)
        });
        let client = mock_client!(aws_sdk_redshiftdata, [&describe]);
        let input = StepInput {
            execution: "exec-1".into(),
            statement_id: Some("facts-1".into()),
            attempt: 0,
        };
        let out = handle(&deps(client), input).await.unwrap();
        assert_eq!(
            out.moved,
            [
                sparkify::Moved::new("plays", 333),
                sparkify::Moved::new("start times", 330)
            ]
        );
    }

    #[tokio::test]
    async fn a_failed_batch_is_statement_failed_with_redshift_text_and_the_sub_statement() {
        let describe = mock!(Client::describe_statement).then_output(|| {
            described(
                "facts-1",
                StatusString::Failed,
                &[
                    (Sub::Finished, 3, None),
                    (
                        Sub::Failed,
                        -1,
                        Some("ERROR: relation \"staging_songs\" does not exist"),
                    ),
                ],
            )
        });
        let client = mock_client!(aws_sdk_redshiftdata, [&describe]);
        let input = StepInput {
            execution: "exec-1".into(),
            statement_id: Some("facts-1".into()),
            attempt: 0,
        };
        let err = handle(&deps(client), input).await.unwrap_err();
        assert_eq!(err.name(), "StatementFailed");
        assert_eq!(
            err,
            EtlError::StatementFailed {
                statement_id: "facts-1".into(),
                sub_statement: Some(2),
                error: "ERROR: relation \"staging_songs\" does not exist".into(),
            }
        );
    }
}
