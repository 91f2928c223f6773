//! Running SQL through the Redshift Data API: submit a batch as one transaction, follow its status,
//! read its results. A call follows its statements for at most the configured statement wait; the
//! state machine's Wait states do the longer waiting.

use crate::config::{ClusterCredentials, Target, Warehouse};
use crate::error::EtlError;
use aws_sdk_redshiftdata::Client;
use aws_sdk_redshiftdata::error::ProvideErrorMetadata;
use aws_sdk_redshiftdata::types::{Field, StatusString};
use sha2::{Digest, Sha256};
use std::time::Duration;
use tokio::time::Instant;

/// Where a submitted batch stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Still queued or running; `status` is the Data API's (SUBMITTED, PICKED, STARTED).
    Running { status: String },
    /// Committed. `rows_affected` has one entry per SQL of the batch, in order (-1 where Redshift
    /// reports no count, as for DDL).
    Finished { rows_affected: Vec<i64> },
}

/// The Data API client bound to one warehouse and database.
#[derive(Debug, Clone)]
pub struct DataApi {
    client: Client,
    warehouse: Warehouse,
}

/// A client token derived from the execution and the step: the same invocation retried by Lambda
/// or Step Functions sends the same token, and the Data API answers with the statement it already
/// started instead of starting another. A SHA-256 hex digest fits the API's 64-character limit
/// whatever the length of the execution ARN.
pub fn client_token(execution: &str, step: &str) -> String {
    let digest = Sha256::digest(format!("{execution}\n{step}").as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The Data API's answer to a DescribeStatement with a wait while another waits on the same
/// statement.
pub const ACTIVE_WAITING_REQUESTS_EXCEEDED: &str = "ActiveWaitingRequestsExceededException";

/// The longest a DescribeStatement may wait for its statement to end (the Data API reference's
/// WaitTimeSeconds: "The maximum value is 30 seconds").
pub const MAX_WAIT_TIME_SECONDS: u64 = 30;

impl DataApi {
    pub fn new(client: Client, warehouse: Warehouse) -> Self {
        Self { client, warehouse }
    }

    /// Submits `sqls` as one `BatchExecuteStatement` (one transaction) and returns its id.
    pub async fn submit(
        &self,
        sqls: Vec<String>,
        client_token: &str,
        statement_name: &str,
    ) -> Result<String, EtlError> {
        let mut request = self
            .client
            .batch_execute_statement()
            .set_sqls(Some(sqls))
            .database(&self.warehouse.database)
            .client_token(client_token)
            .statement_name(statement_name);
        request = match &self.warehouse.target {
            Target::Cluster {
                identifier,
                credentials,
            } => {
                let request = request.cluster_identifier(identifier);
                match credentials {
                    ClusterCredentials::DbUser(user) => request.db_user(user),
                    ClusterCredentials::Secret(arn) => request.secret_arn(arn),
                }
            }
            Target::Serverless {
                workgroup,
                secret_arn,
            } => request
                .workgroup_name(workgroup)
                .set_secret_arn(secret_arn.clone()),
        };
        let output = request
            .send()
            .await
            .map_err(|err| EtlError::from_sdk("BatchExecuteStatement", err))?;
        output.id.ok_or_else(|| {
            EtlError::DataApiRejected(
                "BatchExecuteStatement: the response has no statement id".into(),
            )
        })
    }

    /// When a call that starts now stops following its statements.
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.warehouse.statement_wait
    }

    /// Follows statement `id` until it commits, fails or `deadline` passes. Each DescribeStatement
    /// long-polls: it asks the Data API to answer once the statement has ended or the whole
    /// seconds left have passed (`WaitTimeSeconds`, at most 30), so one request usually sees the
    /// statement through; under a second before the deadline, it asks after 50 ms, then ever less
    /// often (at most every 500 ms). `fresh`: the statement was just submitted, so with no time to
    /// wait it is SUBMITTED without asking.
    pub async fn settle(
        &self,
        id: &str,
        deadline: Instant,
        fresh: bool,
    ) -> Result<Progress, EtlError> {
        let mut pause = Duration::from_millis(50);
        let rest = |pause: &mut Duration| {
            let until = (Instant::now() + *pause).min(deadline);
            *pause = (*pause * 2).min(Duration::from_millis(500));
            tokio::time::sleep_until(until)
        };
        if fresh && Instant::now() >= deadline {
            return Ok(Progress::Running {
                status: "SUBMITTED".to_owned(),
            });
        }
        loop {
            let asked = Instant::now();
            let left = deadline.saturating_duration_since(asked).as_secs();
            let wait = left.min(MAX_WAIT_TIME_SECONDS);
            let progress = self.described(id, wait).await?;
            if matches!(progress, Progress::Finished { .. }) || Instant::now() >= deadline {
                return Ok(progress);
            }
            // An answer sooner than the wait asked for (none asked, or a service that does not
            // long-poll) is followed by a pause, never by a busy loop.
            if asked.elapsed() < Duration::from_secs(wait) || wait == 0 {
                rest(&mut pause).await;
            }
        }
    }

    /// Where statement `id` stands. FAILED and ABORTED become named errors carrying Redshift's text
    /// and the failed sub-statement; a lost serialization conflict is `SerializationConflict`.
    pub async fn progress(&self, id: &str) -> Result<Progress, EtlError> {
        self.described(id, 0).await
    }

    /// [`progress`](Self::progress), the Data API waiting up to `wait` seconds for the statement
    /// to end before it answers (none: at once).
    async fn described(&self, id: &str, wait: u64) -> Result<Progress, EtlError> {
        let wait = i32::try_from(wait).ok().filter(|seconds| *seconds > 0);
        let ask = |wait| {
            self.client
                .describe_statement()
                .id(id)
                .set_wait_time_seconds(wait)
                .send()
        };
        let described = match ask(wait).await {
            Ok(described) => described,
            // Another request already waits on this statement (a retried call beside the one
            // it retries): "The number of active requests with WaitTimeSeconds for the same SQL
            // statement exceeds the limit." Asked again without waiting; the caller rests
            // between such answers.
            Err(err)
                if wait.is_some() && err.code() == Some(ACTIVE_WAITING_REQUESTS_EXCEEDED) =>
            {
                tracing::debug!(statement_id = %id, "another request waits on the statement; asking without waiting");
                ask(None).await
            }
            .map_err(|err| EtlError::from_sdk("DescribeStatement", err))?,
            Err(err) => return Err(EtlError::from_sdk("DescribeStatement", err)),
        };
        let subs = described.sub_statements();
        match described.status() {
            Some(StatusString::Finished) => {
                let rows_affected = if subs.is_empty() {
                    vec![described.result_rows()]
                } else {
                    subs.iter().map(|sub| sub.result_rows()).collect()
                };
                Ok(Progress::Finished { rows_affected })
            }
            Some(StatusString::Failed) => {
                let failed = subs.iter().find(|sub| {
                    sub.error().is_some() || sub.status().map(|s| s.as_str()) == Some("FAILED")
                });
                Err(EtlError::from_failed_statement(
                    id,
                    failed.and_then(|sub| sub_statement_index(sub.id())),
                    failed
                        .and_then(|sub| sub.error())
                        .or(described.error())
                        .unwrap_or("Redshift reported no error text"),
                ))
            }
            Some(StatusString::Aborted) => Err(EtlError::StatementAborted {
                statement_id: id.to_owned(),
            }),
            Some(other) => Ok(Progress::Running {
                status: other.as_str().to_owned(),
            }),
            None => Err(EtlError::DataApiRejected(format!(
                "DescribeStatement: statement {id} has no status"
            ))),
        }
    }

    /// Every row of a finished statement's result (for a batch, of sub-statement `<id>:N`),
    /// following NextToken through all pages.
    pub async fn result_rows(&self, id: &str) -> Result<Vec<Vec<Field>>, EtlError> {
        Ok(self.result_table(id).await?.1)
    }

    /// [`result_rows`](Self::result_rows) with the columns' names (labels), in order.
    pub async fn result_table(&self, id: &str) -> Result<(Vec<String>, Vec<Vec<Field>>), EtlError> {
        let mut columns = Vec::new();
        let mut rows = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let page = self
                .client
                .get_statement_result()
                .id(id)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|err| EtlError::from_sdk("GetStatementResult", err))?;
            next_token = page.next_token().map(str::to_owned);
            if columns.is_empty() {
                columns = page
                    .column_metadata()
                    .iter()
                    .map(|column| {
                        column
                            .label()
                            .or(column.name())
                            .unwrap_or_default()
                            .to_owned()
                    })
                    .collect();
            }
            rows.extend(page.records);
            if next_token.is_none() {
                return Ok((columns, rows));
            }
        }
    }
}

/// `N` of a sub-statement id `<id>:N`.
fn sub_statement_index(sub_id: &str) -> Option<u32> {
    sub_id.rsplit_once(':')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_token_is_stable_per_execution_and_step_and_fits_the_api() {
        let execution = format!(
            "arn:aws:states:us-west-2:123456789012:execution:{}",
            "x".repeat(200)
        );
        let token = client_token(&execution, "copy-staging");
        assert_eq!(token, client_token(&execution, "copy-staging"));
        assert_ne!(token, client_token(&execution, "load-facts"));
        assert_ne!(token, client_token("another-execution", "copy-staging"));
        assert_eq!(token.len(), 64);
    }

    #[test]
    fn sub_statement_index_reads_the_suffix() {
        assert_eq!(sub_statement_index("d9b6c0c9-1f2a:3"), Some(3));
        assert_eq!(sub_statement_index("d9b6c0c9-1f2a"), None);
    }
}

#[cfg(test)]
mod sdk_tests {
    //! The Data API's own error answers, as HTTP, through the real SDK client and its retries.
    use super::*;
    use crate::testing::{config, described, submitted};
    use aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput;
    use aws_sdk_redshiftdata::types::StatementStatusString;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn api(client: Client) -> DataApi {
        DataApi::new(client, config().warehouse)
    }

    fn error_body(code: &str) -> Option<String> {
        Some(format!(
            r#"{{"__type":"{code}","message":"{code} for test"}}"#
        ))
    }

    fn waiting(client: Client, wait: Duration) -> DataApi {
        let mut warehouse = config().warehouse;
        warehouse.statement_wait = wait;
        DataApi::new(client, warehouse)
    }

    fn described_as(status: StatusString) -> DescribeStatementOutput {
        let sub = match status {
            StatusString::Finished => StatementStatusString::Finished,
            _ => StatementStatusString::Started,
        };
        described("s-1", status, &[(sub, 4, None)])
    }

    #[tokio::test]
    async fn settle_follows_a_statement_until_it_commits_within_the_wait() {
        let describe = mock!(Client::describe_statement)
            .sequence()
            .output(|| described_as(StatusString::Submitted))
            .output(|| described_as(StatusString::Started))
            .output(|| described_as(StatusString::Finished))
            .build();
        let client = mock_client!(aws_sdk_redshiftdata, RuleMode::Sequential, [&describe]);
        let api = waiting(client, Duration::from_secs(5));
        let started = Instant::now();
        let progress = api.settle("s-1", api.deadline(), true).await.unwrap();
        assert_eq!(
            progress,
            Progress::Finished {
                rows_affected: vec![4]
            }
        );
        assert_eq!(describe.num_calls(), 3);
        // Asked after 50, 150 and 350 ms: well inside the wait, not at its end.
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_statement_another_request_waits_on_is_asked_again_without_a_wait() {
        let describe = mock!(Client::describe_statement)
            .sequence()
            .http_status(400, error_body(ACTIVE_WAITING_REQUESTS_EXCEEDED))
            .output(|| described_as(StatusString::Finished))
            .build();
        let client = mock_client!(aws_sdk_redshiftdata, RuleMode::Sequential, [&describe]);
        let api = waiting(client, Duration::from_secs(5));
        let progress = api.settle("s-1", api.deadline(), false).await.unwrap();
        assert_eq!(
            progress,
            Progress::Finished {
                rows_affected: vec![4]
            }
        );
        assert_eq!(describe.num_calls(), 2);
    }

    #[tokio::test]
    async fn settle_hands_a_running_statement_back_when_the_wait_is_over() {
        let describe =
            mock!(Client::describe_statement).then_output(|| described_as(StatusString::Started));
        let client = mock_client!(aws_sdk_redshiftdata, RuleMode::MatchAny, [&describe]);
        let api = waiting(client.clone(), Duration::from_millis(400));
        let started = Instant::now();
        let progress = api.settle("s-1", api.deadline(), false).await.unwrap();
        assert_eq!(
            progress,
            Progress::Running {
                status: "STARTED".into()
            }
        );
        assert!(started.elapsed() >= Duration::from_millis(400));
        assert!(describe.num_calls() >= 3, "{}", describe.num_calls());
        // With no wait, a statement just submitted is SUBMITTED without a DescribeStatement, and
        // a later call asks exactly once.
        let calls = describe.num_calls();
        let api = waiting(client, Duration::ZERO);
        let progress = api.settle("s-1", api.deadline(), true).await.unwrap();
        assert_eq!(
            progress,
            Progress::Running {
                status: "SUBMITTED".into()
            }
        );
        assert_eq!(describe.num_calls(), calls);
        api.settle("s-1", api.deadline(), false).await.unwrap();
        assert_eq!(describe.num_calls(), calls + 1);
    }

    #[tokio::test]
    async fn each_target_signs_in_its_own_way() {
        let secret = "arn:aws:secretsmanager:us-west-2:123456789012:secret:etl";
        let serverless = Warehouse {
            target: Target::Serverless {
                workgroup: "arn:aws:redshift-serverless:us-west-2:123456789012:workgroup/wg".into(),
                secret_arn: Some(secret.into()),
            },
            database: "dev".into(),
            statement_wait: Duration::ZERO,
            pause_when_idle: false,
        };
        let cluster_with_secret = Warehouse {
            target: Target::Cluster {
                identifier: "sparkify".into(),
                credentials: ClusterCredentials::Secret(secret.into()),
            },
            database: "dev".into(),
            statement_wait: Duration::ZERO,
            pause_when_idle: false,
        };
        let submit = mock!(Client::batch_execute_statement)
            .match_requests(move |req| {
                let serverless = req
                    .workgroup_name()
                    .is_some_and(|wg| wg.ends_with(":workgroup/wg"))
                    && req.cluster_identifier().is_none();
                let cluster =
                    req.cluster_identifier() == Some("sparkify") && req.workgroup_name().is_none();
                (serverless || cluster)
                    && req.secret_arn() == Some(secret)
                    && req.db_user().is_none()
            })
            .then_output(|| submitted("ok"));
        let client = mock_client!(aws_sdk_redshiftdata, RuleMode::MatchAny, [&submit]);
        for warehouse in [serverless, cluster_with_secret] {
            let api = DataApi::new(client.clone(), warehouse);
            assert_eq!(
                api.submit(vec!["SELECT 1".into()], "t", "n").await.unwrap(),
                "ok"
            );
        }
        assert_eq!(submit.num_calls(), 2);
    }

    #[tokio::test]
    async fn throttled_then_ok_succeeds_through_the_sdk_retry() {
        let submit = mock!(Client::batch_execute_statement)
            .sequence()
            .http_status(400, error_body("ThrottlingException"))
            .output(|| submitted("after-throttle"))
            .build();
        let client = mock_client!(aws_sdk_redshiftdata, [&submit]);
        let id = api(client)
            .submit(vec!["SELECT 1".into()], "t", "n")
            .await
            .unwrap();
        assert_eq!(id, "after-throttle");
        assert_eq!(submit.num_calls(), 2);
    }

    #[tokio::test]
    async fn lasting_throttling_is_throttled() {
        let submit = mock!(Client::batch_execute_statement)
            .sequence()
            .http_status(400, error_body("ThrottlingException"))
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_redshiftdata, [&submit]);
        let err = api(client)
            .submit(vec!["SELECT 1".into()], "t", "n")
            .await
            .unwrap_err();
        assert_eq!(err.name(), "Throttled", "{err}");
        assert!(err.to_string().contains("ThrottlingException"), "{err}");
    }

    #[tokio::test]
    async fn each_service_error_gets_its_name() {
        for (status, code, name) in [
            (400, "ActiveStatementsExceededException", "Throttled"),
            (400, ACTIVE_WAITING_REQUESTS_EXCEEDED, "Throttled"),
            (500, "InternalServerException", "DataApiUnavailable"),
            (400, "ValidationException", "DataApiRejected"),
            (400, "ResourceNotFoundException", "DataApiRejected"),
        ] {
            let describe = mock!(Client::describe_statement)
                .sequence()
                .http_status(status, error_body(code))
                .repeatedly()
                .build();
            let client = mock_client!(aws_sdk_redshiftdata, [&describe]);
            let err = api(client).progress("some-id").await.unwrap_err();
            assert_eq!(err.name(), name, "{code}: {err}");
        }
        // A workgroup the Data API does not know: the preflight of a workgroup is this answer.
        let submit = mock!(Client::batch_execute_statement)
            .sequence()
            .http_status(
                400,
                Some(format!(
                    r#"{{"__type":"ValidationException","message":"{}"}}"#,
                    crate::error::UNKNOWN_ENDPOINT
                )),
            )
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_redshiftdata, [&submit]);
        let err = api(client)
            .submit(vec!["SELECT 1".into()], "t", "n")
            .await
            .unwrap_err();
        assert_eq!(err.name(), "WarehouseNotFound", "{err}");
    }
}
