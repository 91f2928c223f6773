//! load-facts: upserts songplays from this execution's staged events and the song catalogue, as one
//! transaction.

use sparkify::sql::{SqlFile, catalogue};
use sparkify::step::advance_files;
use sparkify::{Deps, EtlError, StepInput, StepOutput};

pub const STEP: &str = "load-facts";

/// What the step reports it moved: the plays it inserted.
pub const MOVED: [(&str, SqlFile); 1] = [("plays", catalogue::SONGPLAYS_INSERT)];

pub type Input = StepInput;

pub async fn handle(deps: &Deps, input: Input) -> Result<StepOutput, EtlError> {
    advance_files(&deps.data_api, STEP, &input, &catalogue::LOAD_FACTS, &MOVED).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_redshiftdata::Client;
    use aws_sdk_redshiftdata::types::{StatementStatusString as Sub, StatusString};
    use aws_smithy_mocks::{mock, mock_client};
    use sparkify::testing::{deps, described, submitted};

    #[tokio::test]
    async fn submits_the_lock_the_delete_then_the_insert_for_this_run() {
        let submit = mock!(Client::batch_execute_statement)
            .match_requests(|req| {
                req.sqls().len() == 3
                    && req.sqls()[0]
                        .contains("LOCK staging_files, staging_events, staging_songs, songplays;")
                    && req.sqls()[1].contains("DELETE FROM songplays")
                    && req.sqls()[1].contains("run_id = 'exec-1'")
                    && req.sqls()[2].contains("INSERT INTO songplays")
                    && req.sqls()[2].contains("e.run_id = 'exec-1'")
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
            let subs = [-1, 4, 333].map(|rows| (Sub::Finished, rows, None));
            described("facts-1", StatusString::Finished, &subs)
        });
        let client = mock_client!(aws_sdk_redshiftdata, [&describe]);
        let input = StepInput {
            execution: "exec-1".into(),
            statement_id: Some("facts-1".into()),
            attempt: 0,
        };
        let out = handle(&deps(client), input).await.unwrap();
        assert_eq!(out.moved, [sparkify::Moved::new("plays", 333)]);
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
