//! The one error type of every function. Its variant names are the `errorType` Lambda reports and
//! the names `statemachine/etl.asl.json` matches in `Retry` and `Catch`: they are a public contract.

use aws_sdk_redshiftdata::error::{ProvideErrorMetadata, SdkError};
use lambda_runtime::Diagnostic;

/// Everything a step can fail with. `name()` is stable; the message is for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EtlError {
    /// The function's environment is missing or malformed (raised on every invocation, so the
    /// state machine sees the name rather than a crashed runtime).
    #[error("configuration error: {0}")]
    Config(String),
    /// The invocation's input cannot be acted on (wrong shape, a key outside the data prefixes, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Redshift ran the batch and it failed; the whole batch was rolled back.
    #[error("statement {statement_id} failed{}: {error}", sub_statement_label(*.sub_statement))]
    StatementFailed {
        statement_id: String,
        /// 1-based index of the failed SQL in the batch, as in the Data API's `<id>:N`.
        sub_statement: Option<u32>,
        error: String,
    },
    /// The batch lost a serializable-isolation conflict with a concurrent transaction (Redshift's
    /// error 1023) and was rolled back whole. The state machine submits it again as a new attempt.
    #[error("statement {statement_id} lost a serialization conflict: {error}")]
    SerializationConflict { statement_id: String, error: String },
    /// The batch was cancelled (by a user or by the warehouse); nothing of it was committed.
    #[error("statement {statement_id} was aborted")]
    StatementAborted { statement_id: String },
    /// The Data API refused the request for rate or concurrency limits: retry later.
    #[error("Data API throttled the request: {0}")]
    Throttled(String),
    /// The Data API could not be reached or failed internally: retry later.
    #[error("Data API unavailable: {0}")]
    DataApiUnavailable(String),
    /// The Data API rejected the request itself (validation, unknown statement, permissions).
    #[error("Data API rejected the request: {0}")]
    DataApiRejected(String),
    /// S3 could not be reached, failed internally or asked to slow down: retry later.
    #[error("S3 unavailable: {0}")]
    S3Unavailable(String),
    /// S3 refused the request (no such bucket or key, access denied, ...).
    #[error("S3 rejected the request: {0}")]
    S3Rejected(String),
    /// verify-counts found failing checks; each entry is `check_name (failing_rows)`.
    #[error("data quality checks failed: {}", .0.join(", "))]
    DataQualityFailed(Vec<String>),
    /// The cluster the functions load into does not exist (DescribeClusters: ClusterNotFound).
    #[error("warehouse not found: {0}")]
    WarehouseNotFound(String),
    /// The COPY role (COPY_ROLE_ARN) is not among the cluster's IAM roles, so every COPY would be
    /// refused.
    #[error("COPY role not attached: {0}")]
    CopyRoleNotAttached(String),
    /// The warehouse is in a state that passes (modifying, rebooting, resizing, ...), or its
    /// management API could not be reached or throttled: retry later.
    #[error("warehouse unavailable: {0}")]
    WarehouseUnavailable(String),
    /// The cluster is paused (or pausing) and this stack does not resume it
    /// (PauseClusterWhenIdle=false). A statement the Data API refuses on a paused cluster is
    /// `DataApiRejected`: AWS documents no error to recognise it by.
    #[error("warehouse paused: {0}")]
    WarehousePaused(String),
    /// Log objects whose COPY failed for their content, in their round and again alone, were put
    /// in quarantine (`load_quarantine`) and left out; everything else of the run committed.
    /// copy-staging reports it in its output and the state machine ends the run with it, after
    /// verify-counts, so that nothing that loaded is rolled back.
    #[error(
        "{count} object(s) failed COPY for their content and are quarantined in load_quarantine (everything else loaded; see docs/runbook.md, Quarantined objects): {}",
        .keys.join(", ")
    )]
    ObjectsQuarantined { count: usize, keys: Vec<String> },
}

fn sub_statement_label(sub_statement: Option<u32>) -> String {
    sub_statement.map_or_else(String::new, |n| format!(" at sub-statement {n}"))
}

/// How a lost concurrent-write conflict reads. Under SERIALIZABLE isolation (a provisioned
/// cluster's default until 2024) Redshift documents error 1023, "Serializable isolation
/// violation". Under SNAPSHOT isolation (Serverless's default, and new clusters' since 2024) AWS
/// documents no text; the PostgreSQL wording Redshift derives from ("could not serialize access
/// due to concurrent update") is what the local stand-in gives, so both count.
pub const SERIALIZATION_CONFLICT_TEXTS: [&str; 2] = [
    "Serializable isolation violation",
    "could not serialize access",
];

/// The Data API's answer for a warehouse endpoint that does not exist.
pub const UNKNOWN_ENDPOINT: &str = "Redshift endpoint doesn't exist in this region.";

impl EtlError {
    /// Every name [`EtlError::name`] can return, for the house-rule tests over the ASL.
    pub const NAMES: [&'static str; 16] = [
        "ConfigError",
        "InvalidInput",
        "StatementFailed",
        "SerializationConflict",
        "StatementAborted",
        "Throttled",
        "DataApiUnavailable",
        "DataApiRejected",
        "S3Unavailable",
        "S3Rejected",
        "DataQualityFailed",
        "WarehouseNotFound",
        "CopyRoleNotAttached",
        "WarehouseUnavailable",
        "WarehousePaused",
        "ObjectsQuarantined",
    ];

    /// The stable PascalCase name Step Functions matches on.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Config(_) => "ConfigError",
            Self::InvalidInput(_) => "InvalidInput",
            Self::StatementFailed { .. } => "StatementFailed",
            Self::SerializationConflict { .. } => "SerializationConflict",
            Self::StatementAborted { .. } => "StatementAborted",
            Self::Throttled(_) => "Throttled",
            Self::DataApiUnavailable(_) => "DataApiUnavailable",
            Self::DataApiRejected(_) => "DataApiRejected",
            Self::S3Unavailable(_) => "S3Unavailable",
            Self::S3Rejected(_) => "S3Rejected",
            Self::DataQualityFailed(_) => "DataQualityFailed",
            Self::WarehouseNotFound(_) => "WarehouseNotFound",
            Self::CopyRoleNotAttached(_) => "CopyRoleNotAttached",
            Self::WarehouseUnavailable(_) => "WarehouseUnavailable",
            Self::WarehousePaused(_) => "WarehousePaused",
            Self::ObjectsQuarantined { .. } => "ObjectsQuarantined",
        }
    }

    /// A failed batch's error: a serialization conflict (which a new attempt can win) or a failure.
    pub fn from_failed_statement(
        statement_id: &str,
        sub_statement: Option<u32>,
        error: &str,
    ) -> Self {
        if SERIALIZATION_CONFLICT_TEXTS
            .iter()
            .any(|text| error.contains(text))
        {
            Self::SerializationConflict {
                statement_id: statement_id.to_owned(),
                error: error.to_owned(),
            }
        } else {
            Self::StatementFailed {
                statement_id: statement_id.to_owned(),
                sub_statement,
                error: error.to_owned(),
            }
        }
    }

    /// Classifies an S3 SDK error: throttling, server and transport failures can be retried.
    pub fn from_s3<E, R>(operation: &str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        let by_code = |code: &str, text| match code {
            "SlowDown"
            | "ServiceUnavailable"
            | "InternalError"
            | "RequestTimeout"
            | "RequestTimeTooSkewed" => Self::S3Unavailable(text),
            _ => Self::S3Rejected(text),
        };
        Self::classify(
            operation,
            err,
            by_code,
            Self::S3Unavailable,
            Self::S3Rejected,
        )
    }

    /// Classifies a Data API SDK error into a retryable or final named error.
    pub fn from_sdk<E, R>(operation: &str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        let by_code = |code: &str, text| match code {
            "ThrottlingException"
            | "TooManyRequestsException"
            | "ActiveStatementsExceededException"
            | "ActiveSessionsExceededException"
            | crate::data_api::ACTIVE_WAITING_REQUESTS_EXCEEDED => Self::Throttled(text),
            // The server-side faults (HTTP 500): BatchExecuteStatementException and
            // ExecuteStatementException are "an environmental error while running".
            "InternalServerException"
            | "ServiceUnavailableException"
            | "DatabaseConnectionException"
            | "BatchExecuteStatementException"
            | "ExecuteStatementException" => Self::DataApiUnavailable(text),
            // A workgroup (or cluster) the Data API does not know. AWS documents no text for
            // it; this is what AWS answered a request for a missing workgroup.
            "ValidationException" if text.contains(UNKNOWN_ENDPOINT) => {
                Self::WarehouseNotFound(text)
            }
            _ => Self::DataApiRejected(text),
        };
        Self::classify(
            operation,
            err,
            by_code,
            Self::DataApiUnavailable,
            Self::DataApiRejected,
        )
    }

    /// The shape both services share: a service error is named by its code (`by_code` gets the
    /// code and `operation: code: message`); a timeout, a dispatch or a response failure is
    /// `unavailable`; anything else is `rejected`.
    fn classify<E, R>(
        operation: &str,
        err: SdkError<E, R>,
        by_code: impl Fn(&str, String) -> Self,
        unavailable: fn(String) -> Self,
        rejected: fn(String) -> Self,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        match &err {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let code = inner.code().unwrap_or("Unknown");
                let text = format!(
                    "{operation}: {code}: {}",
                    inner.message().unwrap_or("no message")
                );
                by_code(code, text)
            }
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => {
                unavailable(format!("{operation}: {}", error_chain(&err)))
            }
            _ => rejected(format!("{operation}: {}", error_chain(&err))),
        }
    }
}

/// The error and its sources on one line: SDK errors put the useful part in the source chain.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl From<EtlError> for Diagnostic {
    fn from(err: EtlError) -> Self {
        Diagnostic {
            error_type: err.name().to_owned(),
            error_message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_of_each() -> Vec<EtlError> {
        vec![
            EtlError::Config("x".into()),
            EtlError::InvalidInput("x".into()),
            EtlError::StatementFailed {
                statement_id: "id".into(),
                sub_statement: Some(2),
                error: "boom".into(),
            },
            EtlError::SerializationConflict {
                statement_id: "id".into(),
                error: "ERROR: 1023".into(),
            },
            EtlError::StatementAborted {
                statement_id: "id".into(),
            },
            EtlError::Throttled("x".into()),
            EtlError::DataApiUnavailable("x".into()),
            EtlError::DataApiRejected("x".into()),
            EtlError::S3Unavailable("x".into()),
            EtlError::S3Rejected("x".into()),
            EtlError::DataQualityFailed(vec!["users_key_unique (3)".into()]),
            EtlError::WarehouseNotFound("x".into()),
            EtlError::CopyRoleNotAttached("x".into()),
            EtlError::WarehouseUnavailable("x".into()),
            EtlError::WarehousePaused("x".into()),
            EtlError::ObjectsQuarantined {
                count: 2,
                keys: vec!["log_data/a.json".into()],
            },
        ]
    }

    #[test]
    fn every_variant_has_its_listed_name_and_the_diagnostic_carries_it() {
        let names: Vec<&str> = one_of_each().iter().map(EtlError::name).collect();
        assert_eq!(names, EtlError::NAMES);
        for err in one_of_each() {
            let name = err.name();
            let diagnostic = Diagnostic::from(err);
            assert_eq!(diagnostic.error_type, name);
        }
    }

    #[test]
    fn statement_failed_message_names_the_sub_statement_and_redshift_text() {
        let err = EtlError::StatementFailed {
            statement_id: "abc".into(),
            sub_statement: Some(3),
            error: "ERROR: relation \"songs\" does not exist".into(),
        };
        assert_eq!(
            err.to_string(),
            "statement abc failed at sub-statement 3: ERROR: relation \"songs\" does not exist"
        );
    }

    #[test]
    fn a_failed_batch_is_a_conflict_only_when_it_lost_one_under_either_isolation_level() {
        let conflict = "ERROR: 1023 DETAIL: Serializable isolation violation on table - 156, \
                        transactions forming the cycle are: 3455, 3442 (pid:15440)";
        assert_eq!(
            EtlError::from_failed_statement("s-1", Some(4), conflict).name(),
            "SerializationConflict"
        );
        let snapshot = "ERROR: could not serialize access due to concurrent update";
        assert_eq!(
            EtlError::from_failed_statement("s-1", Some(4), snapshot).name(),
            "SerializationConflict"
        );
        // A deadlock is a lock-order bug, not a conflict a new attempt is meant to win.
        let deadlock = "ERROR: deadlock detected DETAIL: Process 1 waits for ShareRowExclusiveLock";
        assert_eq!(
            EtlError::from_failed_statement("s-1", Some(2), deadlock).name(),
            "StatementFailed"
        );
        let other = EtlError::from_failed_statement("s-1", Some(4), "ERROR: division by zero");
        assert_eq!(
            other,
            EtlError::StatementFailed {
                statement_id: "s-1".into(),
                sub_statement: Some(4),
                error: "ERROR: division by zero".into()
            }
        );
    }

    #[test]
    fn data_quality_message_lists_the_failed_checks() {
        let err = EtlError::DataQualityFailed(vec!["a (1)".into(), "b (2)".into()]);
        assert_eq!(err.to_string(), "data quality checks failed: a (1), b (2)");
    }
}
