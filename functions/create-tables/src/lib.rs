//! create-tables: creates the staging, fact and dimension tables if they do not exist (optionally
//! dropping them first), as one transaction.

use serde::Deserialize;
use sparkify::sql::catalogue;
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
}

pub async fn handle(deps: &Deps, input: Input) -> Result<StepOutput, EtlError> {
    // A reset is a different batch, so it gets a client token of its own.
    let step = if input.reset {
        "create-tables-reset"
    } else {
        STEP
    };
    advance(&deps.data_api, step, &input.step, || {
        let drop = input.reset.then_some(catalogue::DROP_TABLES);
        Ok(drop
            .into_iter()
            .chain(catalogue::CREATE_TABLES)
            .map(|file| file.text.to_owned())
            .collect())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_redshiftdata::Client;
    use aws_sdk_redshiftdata::types::{StatementStatusString as Sub, StatusString};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use sparkify::data_api::client_token;
    use sparkify::testing::{deps, described, submitted};

    fn input(statement_id: Option<&str>, reset: bool) -> Input {
        Input {
            step: StepInput {
                execution: "exec-1".into(),
                statement_id: statement_id.map(str::to_owned),
            },
            reset,
        }
    }

    #[tokio::test]
    async fn first_call_submits_every_create_as_one_batch_with_the_derived_token() {
        let submit = mock!(Client::batch_execute_statement)
            .match_requests(|req| {
                req.sqls().len() == 9
                    && req.sqls()[0].contains("CREATE TABLE IF NOT EXISTS staging_events")
                    && req.sqls()[8].contains("CREATE TABLE IF NOT EXISTS songplays")
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

    #[tokio::test]
    async fn reset_drops_first_under_a_token_of_its_own() {
        let submit = mock!(Client::batch_execute_statement)
            .match_requests(|req| {
                req.sqls().len() == 10
                    && req.sqls()[0].contains("DROP TABLE IF EXISTS")
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
