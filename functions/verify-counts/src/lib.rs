//! verify-counts: counts every table and runs the data-quality checks (`sql/verify/`), returns both
//! as JSON, and fails the run with `DataQualityFailed` naming each failed check. The same batch
//! ends the run's staging: its rows in staging_events and staging_files are removed.

use aws_sdk_redshiftdata::types::Field;
use serde::{Deserialize, Serialize};
use sparkify::sql::catalogue;
use sparkify::step::advance_files;
use sparkify::{Deps, EtlError, StepInput, StepOutput};

pub const STEP: &str = "verify-counts";

pub type Input = StepInput;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    #[serde(flatten)]
    pub step: StepOutput,
    /// Present once the queries have finished (null while they run).
    pub report: Option<Report>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Rows per table, in load order.
    pub counts: Vec<TableCount>,
    pub checks: Vec<CheckResult>,
    /// True when every check passed.
    pub passed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCount {
    pub table: String,
    pub rows: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub check: String,
    pub failing_rows: i64,
    pub passed: bool,
}

pub async fn handle(deps: &Deps, input: Input) -> Result<Output, EtlError> {
    let files = catalogue::VERIFY;
    let step = advance_files(&deps.data_api, STEP, &input, &files).await?;
    if !step.done {
        return Ok(Output { step, report: None });
    }
    // A batch's results are read per sub-statement, `<id>:N`, in the order of `files`.
    let counts = named_numbers(&deps.data_api, &format!("{}:1", step.statement_id)).await?;
    let checks = named_numbers(&deps.data_api, &format!("{}:2", step.statement_id)).await?;
    let report = Report {
        counts: counts
            .into_iter()
            .map(|(table, rows)| TableCount { table, rows })
            .collect(),
        passed: checks.iter().all(|(_, failing)| *failing == 0),
        checks: checks
            .into_iter()
            .map(|(check, failing_rows)| CheckResult {
                check,
                failing_rows,
                passed: failing_rows == 0,
            })
            .collect(),
    };
    tracing::info!(step = STEP, report = %serde_json::json!(report), "verification finished");
    if !report.passed {
        let failed = report
            .checks
            .iter()
            .filter(|check| !check.passed)
            .map(|check| format!("{} ({})", check.check, check.failing_rows))
            .collect();
        return Err(EtlError::DataQualityFailed(failed));
    }
    Ok(Output {
        step,
        report: Some(report),
    })
}

/// Reads a `(name, number)` result: both verification queries return that shape.
async fn named_numbers(api: &sparkify::DataApi, id: &str) -> Result<Vec<(String, i64)>, EtlError> {
    let unexpected = |row: &[Field]| {
        EtlError::DataApiRejected(format!(
            "GetStatementResult {id}: expected (name, number) rows, got {row:?}"
        ))
    };
    api.result_rows(id)
        .await?
        .iter()
        .map(|row| match row.as_slice() {
            [Field::StringValue(name), Field::LongValue(n)] => Ok((name.clone(), *n)),
            [Field::StringValue(name), Field::StringValue(n)] => n
                .parse()
                .map(|n| (name.clone(), n))
                .map_err(|_| unexpected(row)),
            _ => Err(unexpected(row)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_redshiftdata::Client;
    use aws_sdk_redshiftdata::operation::get_statement_result::GetStatementResultOutput;
    use aws_sdk_redshiftdata::types::{StatementStatusString as Sub, StatusString};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use sparkify::testing::{deps, described};

    fn resume() -> StepInput {
        StepInput {
            execution: "exec-1".into(),
            statement_id: Some("verify-1".into()),
            attempt: 0,
        }
    }

    fn page(rows: &[(&str, i64)], next_token: Option<&str>) -> GetStatementResultOutput {
        let records = rows
            .iter()
            .map(|(name, n)| vec![Field::StringValue((*name).into()), Field::LongValue(*n)])
            .collect();
        GetStatementResultOutput::builder()
            .set_records(Some(records))
            .set_next_token(next_token.map(str::to_owned))
            .build()
            .unwrap()
    }

    fn finished() -> aws_smithy_mocks::Rule {
        mock!(Client::describe_statement).then_output(|| {
            described(
                "verify-1",
                StatusString::Finished,
                &[(Sub::Finished, 7, None), (Sub::Finished, 14, None)],
            )
        })
    }

    fn counts() -> aws_smithy_mocks::Rule {
        // Two pages, to prove NextToken is followed.
        mock!(Client::get_statement_result)
            .match_requests(|req| req.id() == Some("verify-1:1"))
            .sequence()
            .output(|| {
                page(
                    &[("staging_events", 8056), ("staging_songs", 14896)],
                    Some("p2"),
                )
            })
            .output(|| page(&[("songplays", 333), ("users", 96)], None))
            .build()
    }

    fn checks(failing_users: i64) -> aws_smithy_mocks::Rule {
        mock!(Client::get_statement_result)
            .match_requests(|req| req.id() == Some("verify-1:2"))
            .then_output(move || {
                page(
                    &[
                        ("songplays_key_unique", 0),
                        ("users_key_unique", failing_users),
                    ],
                    None,
                )
            })
    }

    #[tokio::test]
    async fn a_finished_run_reports_every_count_and_check() {
        let (finished, counts, checks) = (finished(), counts(), checks(0));
        let client = mock_client!(
            aws_sdk_redshiftdata,
            RuleMode::MatchAny,
            [&finished, &counts, &checks]
        );
        let out = handle(&deps(client), resume()).await.unwrap();
        let report = out.report.unwrap();
        assert!(report.passed);
        let counted: Vec<(&str, i64)> = report
            .counts
            .iter()
            .map(|c| (c.table.as_str(), c.rows))
            .collect();
        assert_eq!(
            counted,
            [
                ("staging_events", 8056),
                ("staging_songs", 14896),
                ("songplays", 333),
                ("users", 96)
            ]
        );
        assert_eq!(report.checks.len(), 2);
        assert_eq!(counts.num_calls(), 2);
    }

    #[tokio::test]
    async fn a_failing_check_is_data_quality_failed_naming_it() {
        let (finished, counts, checks) = (finished(), counts(), checks(3));
        let client = mock_client!(
            aws_sdk_redshiftdata,
            RuleMode::MatchAny,
            [&finished, &counts, &checks]
        );
        let err = handle(&deps(client), resume()).await.unwrap_err();
        assert_eq!(err.name(), "DataQualityFailed");
        assert_eq!(
            err,
            EtlError::DataQualityFailed(vec!["users_key_unique (3)".into()])
        );
    }

    #[tokio::test]
    async fn while_running_there_is_no_report_and_results_are_not_read() {
        let running = mock!(Client::describe_statement)
            .then_output(|| described("verify-1", StatusString::Picked, &[]));
        let results = checks(0);
        let client = mock_client!(
            aws_sdk_redshiftdata,
            RuleMode::MatchAny,
            [&running, &results]
        );
        let out = handle(&deps(client), resume()).await.unwrap();
        assert_eq!((out.step.status.as_str(), out.step.done), ("PICKED", false));
        assert_eq!(out.report, None);
        assert_eq!(results.num_calls(), 0);
    }
}
