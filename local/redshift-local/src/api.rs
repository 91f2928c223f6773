//! The Data API's wire protocol as `aws-sdk-redshiftdata`, boto3 and the AWS CLI speak it:
//! `POST /` with `X-Amz-Target: RedshiftData.<Operation>` and an `application/x-amz-json-1.1`
//! body; errors as `{"__type": ..., "message": ...}` with AWS's status codes. Request signatures
//! are accepted without checking; their access key ID names the caller ([`crate::identity`]).

use crate::identity::{self, SignInError};
use crate::statements::{self, CancelOutcome, Runner, Statement, Status, Submission, Target};
use crate::transactions::Isolation;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The most SQL statements one BatchExecuteStatement takes, as in AWS.
pub const MAX_BATCH_SQLS: usize = 40;

/// "The maximum query statement size is 100 KB." The documentation does not say whether a
/// batch's limit is per SQL or for all of them; both are held to it here (the strict reading).
pub const MAX_SQL_BYTES: usize = 100 * 1024;

/// "The maximum number of active queries (STARTED and SUBMITTED queries) per Amazon Redshift
/// cluster is 200."
pub const MAX_ACTIVE_STATEMENTS: usize = 200;

/// DescribeStatement requests with a `WaitTimeSeconds` waiting on one statement at once. The API
/// reference names the limit ("The number of active requests with WaitTimeSeconds for the same SQL
/// statement exceeds the limit": ActiveWaitingRequestsExceededException) but not its number, so
/// the strict reading: one.
pub const MAX_WAITING_REQUESTS: usize = 1;

pub struct Api {
    pub runner: Arc<Runner>,
    /// Rows per GetStatementResult page.
    pub page_rows: usize,
    /// The database user each known Secrets Manager secret signs in as, by ARN.
    pub secrets: HashMap<String, String>,
    /// One isolation level for every target, instead of each target's default.
    pub isolation: Option<Isolation>,
    /// Statements that may be active at once ([`MAX_ACTIVE_STATEMENTS`]).
    pub max_active: usize,
    /// Waiting DescribeStatements one statement may have at once ([`MAX_WAITING_REQUESTS`]).
    pub max_waiting: usize,
    /// The waiting DescribeStatements of each statement now.
    pub waiting: std::sync::Mutex<HashMap<String, usize>>,
    /// Every call, counted by action.
    pub requests: Arc<crate::requests::Requests>,
}

/// One waiting DescribeStatement of a statement, counted while it waits (the count drops with it,
/// whether it answers or its client goes away).
struct Waiting<'a> {
    api: &'a Api,
    id: String,
}

impl<'a> Waiting<'a> {
    fn start(api: &'a Api, id: &str) -> Result<Self, ApiError> {
        let mut waiting = api.waiting.lock().expect("waiting lock");
        let count = waiting.entry(id.to_owned()).or_default();
        if *count >= api.max_waiting {
            return Err(ApiError::active_waiting_requests_exceeded());
        }
        *count += 1;
        Ok(Self {
            api,
            id: id.to_owned(),
        })
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut waiting = self.api.waiting.lock().expect("waiting lock");
        if let Some(count) = waiting.get_mut(&self.id) {
            *count -= 1;
            if *count == 0 {
                waiting.remove(&self.id);
            }
        }
    }
}

/// Who sent a request: its access key ID, if it was signed.
#[derive(Debug, Clone, Default)]
struct Caller {
    access_key: Option<String>,
}

/// An error answer: the exception name, its HTTP status and the message.
#[derive(Debug)]
pub struct ApiError {
    kind: &'static str,
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn validation(message: impl Into<String>) -> Self {
        Self {
            kind: "ValidationException",
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self {
            kind: "ResourceNotFoundException",
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn active_statements_exceeded() -> Self {
        Self {
            kind: "ActiveStatementsExceededException",
            status: StatusCode::BAD_REQUEST,
            message: "The number of active statements exceeds the limit.".to_owned(),
        }
    }

    fn active_waiting_requests_exceeded() -> Self {
        Self {
            kind: "ActiveWaitingRequestsExceededException",
            status: StatusCode::BAD_REQUEST,
            message: "The number of active requests with WaitTimeSeconds for the same SQL statement exceeds the limit.".to_owned(),
        }
    }

    fn throttled(operation: &str) -> Self {
        Self {
            kind: "ThrottlingException",
            status: StatusCode::BAD_REQUEST,
            message: format!("Rate exceeded for {operation}"),
        }
    }

    /// The Data API's server-side fault of ExecuteStatement or BatchExecuteStatement.
    fn server_fault(operation: &str) -> Self {
        Self {
            kind: if operation == "ExecuteStatement" {
                "ExecuteStatementException"
            } else {
                "BatchExecuteStatementException"
            },
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "An SQL statement encountered an environmental error while running."
                .to_owned(),
        }
    }

    fn unknown_operation(target: &str) -> Self {
        Self {
            kind: "UnknownOperationException",
            status: StatusCode::BAD_REQUEST,
            message: format!("operation {target} is not supported by the local Data API"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "__type": self.kind, "message": self.message }).to_string();
        (
            self.status,
            [
                (header::CONTENT_TYPE, "application/x-amz-json-1.1"),
                (
                    header::HeaderName::from_static("x-amzn-errortype"),
                    self.kind,
                ),
            ],
            body,
        )
            .into_response()
    }
}

impl Api {
    /// Answers one request.
    pub async fn handle(&self, headers: &HeaderMap, body: &Bytes) -> Response {
        let target = headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        self.requests
            .data_api(target.strip_prefix("RedshiftData.").unwrap_or(target));
        let caller = Caller {
            access_key: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(identity::access_key_id)
                .map(str::to_owned),
        };
        match self.dispatch(target, body, &caller).await {
            Ok(value) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
                value.to_string(),
            )
                .into_response(),
            Err(err) => err.into_response(),
        }
    }

    async fn dispatch(
        &self,
        target: &str,
        body: &Bytes,
        caller: &Caller,
    ) -> Result<Value, ApiError> {
        let operation = target.strip_prefix("RedshiftData.");
        let statement_name = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("StatementName")?.as_str().map(str::to_owned));
        if let Some(pause) =
            operation.and_then(|o| self.runner.faults.delay(o, statement_name.as_deref()))
        {
            tokio::time::sleep(pause).await;
        }
        if let Some(operation) = operation
            && self.runner.faults.throttle(operation)
        {
            return Err(ApiError::throttled(operation));
        }
        if let Some(operation @ ("ExecuteStatement" | "BatchExecuteStatement")) = operation
            && self.runner.faults.server_error(operation)
        {
            return Err(ApiError::server_fault(operation));
        }
        match operation {
            Some("ExecuteStatement") => self.execute(parse(body)?, caller).await,
            Some("BatchExecuteStatement") => self.batch(parse(body)?, caller).await,
            Some("DescribeStatement") => self.describe(parse(body)?).await,
            Some("GetStatementResult") => self.result(parse(body)?),
            Some("CancelStatement") => self.cancel(parse(body)?).await,
            Some("ListStatements") => self.list(parse(body)?, caller),
            _ => Err(ApiError::unknown_operation(target)),
        }
    }

    async fn execute(&self, req: ExecuteRequest, caller: &Caller) -> Result<Value, ApiError> {
        if req.sql.trim().is_empty() {
            return Err(ApiError::validation("Sql must not be empty"));
        }
        let parameters = req
            .parameters
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.name, p.value))
            .collect();
        self.submit(
            req.target,
            caller,
            vec![req.sql],
            false,
            req.statement_name,
            req.client_token,
            parameters,
        )
    }

    async fn batch(&self, req: BatchRequest, caller: &Caller) -> Result<Value, ApiError> {
        if req.sqls.is_empty() || req.sqls.len() > MAX_BATCH_SQLS {
            return Err(ApiError::validation(format!(
                "Sqls must hold 1 to {MAX_BATCH_SQLS} statements, got {}",
                req.sqls.len()
            )));
        }
        if req.sqls.iter().any(|sql| sql.trim().is_empty()) {
            return Err(ApiError::validation(
                "Sqls must not hold an empty statement",
            ));
        }
        self.submit(
            req.target,
            caller,
            req.sqls,
            true,
            req.statement_name,
            req.client_token,
            HashMap::new(),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn submit(
        &self,
        target: TargetFields,
        caller: &Caller,
        sqls: Vec<String>,
        is_batch: bool,
        name: Option<String>,
        client_token: Option<String>,
        parameters: HashMap<String, String>,
    ) -> Result<Value, ApiError> {
        let target = target.validate(caller, &self.secrets, self.isolation)?;
        if let Some(cluster) = &target.cluster_identifier {
            self.runner
                .clusters
                .check_queries(cluster)
                .map_err(ApiError::validation)?;
        }
        self.runner
            .clusters
            .check_database(&target.database)
            .map_err(ApiError::validation)?;
        if let Some(workgroup) = &target.workgroup_name {
            self.runner
                .clusters
                .check_workgroup(workgroup)
                .map_err(ApiError::validation)?;
        }
        if let Some(big) = sqls.iter().map(String::len).find(|n| *n > MAX_SQL_BYTES) {
            return Err(ApiError::validation(format!(
                "The SQL statement is {big} bytes: the maximum query statement size is 100 KB"
            )));
        }
        let total: usize = sqls.iter().map(String::len).sum();
        if total > MAX_SQL_BYTES {
            return Err(ApiError::validation(format!(
                "The batch's SQL statements are {total} bytes together: the maximum query statement size is 100 KB"
            )));
        }
        if self.runner.store.active() >= self.max_active {
            return Err(ApiError::active_statements_exceeded());
        }
        let (statement, is_new) = self
            .runner
            .store
            .submit(Submission {
                sqls,
                is_batch,
                name,
                target,
                parameters,
                client_token,
            })
            .map_err(ApiError::validation)?;
        if is_new {
            tokio::spawn(statements::run(self.runner.clone(), statement.id.clone()));
        }
        let t = &statement.target;
        Ok(json!({
            "Id": statement.id,
            "CreatedAt": statement.created_at,
            "Database": t.database,
            "ClusterIdentifier": t.cluster_identifier,
            "WorkgroupName": t.workgroup_name,
            "DbUser": t.db_user.as_deref().or(t.user.name()),
            "SecretArn": t.secret_arn,
        }))
    }

    /// DescribeStatement; with `WaitTimeSeconds` (0 to 30, as the API reference bounds it) it
    /// answers once the statement has ended or that long has passed, whichever comes first.
    async fn describe(&self, req: DescribeRequest) -> Result<Value, ApiError> {
        let wait = match req.wait_time_seconds {
            None => 0,
            Some(seconds @ 0..=MAX_WAIT_TIME_SECONDS) => seconds,
            Some(other) => {
                return Err(ApiError::validation(format!(
                    "WaitTimeSeconds must be from 0 to {MAX_WAIT_TIME_SECONDS}, got {other}"
                )));
            }
        };
        let until = tokio::time::Instant::now() + std::time::Duration::from_secs(wait);
        let parent = req
            .id
            .rsplit_once(':')
            .map_or(req.id.as_str(), |(parent, _)| parent);
        let _waiting = if wait > 0 {
            self.find(parent)?;
            Some(Waiting::start(self, parent)?)
        } else {
            None
        };
        self.runner.store.until_final(parent, until).await;
        if let Some((parent, n)) = req.id.rsplit_once(':') {
            return self.describe_sub(parent, n);
        }
        let statement = self.find(&req.id)?;
        let t = &statement.target;
        let mut out = json!({
            "Id": statement.id,
            "Status": statement.status.as_str(),
            "Error": statement.error,
            "QueryString": if statement.is_batch { None } else { Some(&statement.subs[0].sql) },
            "ResultRows": statement.result_rows(),
            "ResultSize": if statement.is_batch { -1 } else { statement.subs[0].result_size },
            "HasResultSet": !statement.is_batch && statement.subs[0].result.is_some(),
            "CreatedAt": statement.created_at,
            "UpdatedAt": statement.updated_at,
            "Duration": duration_ns(statement.created_at, statement.updated_at, statement.status),
            "RedshiftQueryId": statement.query_id,
            "Database": t.database,
            "ClusterIdentifier": t.cluster_identifier,
            "WorkgroupName": t.workgroup_name,
            "DbUser": t.db_user.as_deref().or(t.user.name()),
            "SecretArn": t.secret_arn,
        });
        if statement.is_batch {
            out["SubStatements"] = (0..statement.subs.len())
                .map(|index| sub_description(&statement, index))
                .collect();
        }
        Ok(strip_nulls(out))
    }

    /// DescribeStatement of `<id>:N`, the N-th SQL of a batch: that SQL's own description, with
    /// the batch's warehouse and user.
    fn describe_sub(&self, parent: &str, n: &str) -> Result<Value, ApiError> {
        let statement = self.find(parent)?;
        let index = n
            .parse::<usize>()
            .ok()
            .filter(|n| statement.is_batch && (1..=statement.subs.len()).contains(n))
            .ok_or_else(|| ApiError::not_found("Query does not exist."))?
            - 1;
        let t = &statement.target;
        let mut out = sub_description(&statement, index);
        for (key, value) in [
            ("RedshiftQueryId", json!(statement.query_id)),
            ("Database", json!(t.database)),
            ("ClusterIdentifier", json!(t.cluster_identifier)),
            ("WorkgroupName", json!(t.workgroup_name)),
            ("DbUser", json!(t.db_user.as_deref().or(t.user.name()))),
            ("SecretArn", json!(t.secret_arn)),
        ] {
            out[key] = value;
        }
        Ok(strip_nulls(out))
    }

    fn result(&self, req: ResultRequest) -> Result<Value, ApiError> {
        let (parent_id, sub_index) = match req.id.rsplit_once(':') {
            Some((parent, n)) => {
                let n: usize = n.parse().map_err(|_| {
                    ApiError::validation(format!("invalid statement id {}", req.id))
                })?;
                (parent, Some(n))
            }
            None => (req.id.as_str(), None),
        };
        let statement = self.find(parent_id)?;
        let sub = match (statement.is_batch, sub_index) {
            (true, None) => {
                return Err(ApiError::validation(
                    "BatchExecuteStatement result can only be retrieved with sub-statement id.",
                ));
            }
            (true, Some(n)) => statement
                .subs
                .get(n.wrapping_sub(1))
                .ok_or_else(|| ApiError::not_found("Query does not exist."))?,
            (false, None) => &statement.subs[0],
            (false, Some(_)) => return Err(ApiError::not_found("Query does not exist.")),
        };
        if sub.status != Status::Finished {
            return Err(ApiError::validation(format!(
                "Query {} is in {} state; results are available once it has FINISHED.",
                req.id,
                sub.status.as_str()
            )));
        }
        let result = sub.result.as_ref().ok_or_else(|| {
            ApiError::not_found(
                "Query does not have result. Please check query status with DescribeStatement.",
            )
        })?;
        let start = match &req.next_token {
            None => 0,
            Some(token) => token
                .strip_prefix("rows-")
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n < result.rows.len())
                .ok_or_else(|| ApiError::validation("invalid NextToken"))?,
        };
        let end = (start + self.page_rows).min(result.rows.len());
        Ok(strip_nulls(json!({
            "Records": result.rows[start..end],
            "ColumnMetadata": result.columns,
            "TotalNumRows": result.rows.len(),
            "NextToken": (end < result.rows.len()).then(|| format!("rows-{end}")),
        })))
    }

    async fn cancel(&self, req: IdRequest) -> Result<Value, ApiError> {
        match self.runner.store.cancel(&req.id) {
            None => Err(ApiError::not_found("Query does not exist.")),
            Some(CancelOutcome::AlreadyFinal(status)) => Err(ApiError::validation(format!(
                "Could not cancel a query that is already in {} state.",
                status.as_str()
            ))),
            Some(CancelOutcome::Cancelled) => Ok(json!({ "Status": true })),
        }
    }

    /// ListStatements as AWS answers it by default (RoleLevel true): the statements the caller's
    /// own IAM identity ran, newest first.
    fn list(&self, req: ListRequest, caller: &Caller) -> Result<Value, ApiError> {
        let max = match req.max_results {
            None | Some(0) => 100,
            Some(n) if n <= 100 => n as usize,
            Some(n) => {
                return Err(ApiError::validation(format!(
                    "MaxResults must be at most 100, got {n}"
                )));
            }
        };
        let status_filter = req.status.filter(|s| s != "ALL");
        let matching: Vec<Statement> = self
            .runner
            .store
            .newest_first()
            .into_iter()
            .filter(|s| s.target.caller == caller.access_key)
            .filter(|s| {
                status_filter
                    .as_deref()
                    .is_none_or(|want| s.status.as_str() == want)
            })
            .filter(|s| {
                req.statement_name
                    .as_deref()
                    .is_none_or(|prefix| s.name.as_deref().is_some_and(|n| n.starts_with(prefix)))
            })
            .collect();
        let start = match &req.next_token {
            None => 0,
            Some(token) => token
                .strip_prefix("statements-")
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n <= matching.len())
                .ok_or_else(|| ApiError::validation("invalid NextToken"))?,
        };
        let end = (start + max).min(matching.len());
        let statements: Vec<Value> = matching[start..end]
            .iter()
            .map(|s| {
                strip_nulls(json!({
                    "Id": s.id,
                    "Status": s.status.as_str(),
                    "StatementName": s.name,
                    "IsBatchStatement": s.is_batch,
                    "QueryString": if s.is_batch { None } else { Some(&s.subs[0].sql) },
                    "QueryStrings": if s.is_batch { Some(s.subs.iter().map(|sub| &sub.sql).collect::<Vec<_>>()) } else { None },
                    "CreatedAt": s.created_at,
                    "UpdatedAt": s.updated_at,
                    "SecretArn": s.target.secret_arn,
                }))
            })
            .collect();
        Ok(strip_nulls(json!({
            "Statements": statements,
            "NextToken": (end < matching.len()).then(|| format!("statements-{end}")),
        })))
    }

    fn find(&self, id: &str) -> Result<Statement, ApiError> {
        self.runner
            .store
            .get(id)
            .ok_or_else(|| ApiError::not_found("Query does not exist."))
    }
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|err| ApiError::validation(format!("malformed request: {err}")))
}

/// One SQL of a batch as DescribeStatement shows it (`<id>:N`, 0-based `index`).
fn sub_description(statement: &Statement, index: usize) -> Value {
    let sub = &statement.subs[index];
    json!({
        "Id": format!("{}:{}", statement.id, index + 1),
        "Status": sub.status.as_str(),
        "Error": sub.error,
        "QueryString": sub.sql,
        "ResultRows": if sub.status == Status::Finished { sub.result_rows } else { -1 },
        "ResultSize": sub.result_size,
        "HasResultSet": sub.result.is_some(),
        "CreatedAt": sub.created_at,
        "UpdatedAt": sub.updated_at,
        "Duration": duration_ns(sub.started.unwrap_or(sub.created_at), sub.updated_at, sub.status),
    })
}

fn duration_ns(from: f64, to: f64, status: Status) -> i64 {
    if status.is_final() {
        ((to - from).max(0.0) * 1e9) as i64
    } else {
        -1
    }
}

/// Absent rather than null, as AWS leaves out members it has no value for.
fn strip_nulls(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.retain(|_, v| !v.is_null());
    }
    value
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TargetFields {
    database: Option<String>,
    cluster_identifier: Option<String>,
    workgroup_name: Option<String>,
    db_user: Option<String>,
    secret_arn: Option<String>,
}

impl TargetFields {
    /// The Data API's sign-in rules: a database, and a cluster or a workgroup (not both); then
    /// the database user the caller signs in as.
    fn validate(
        self,
        caller: &Caller,
        secrets: &HashMap<String, String>,
        isolation: Option<Isolation>,
    ) -> Result<Target, ApiError> {
        let database = self
            .database
            .filter(|d| !d.is_empty())
            .ok_or_else(|| ApiError::validation("Database is required"))?;
        match (&self.cluster_identifier, &self.workgroup_name) {
            (Some(_), Some(_)) => {
                return Err(ApiError::validation(
                    "ClusterIdentifier and WorkgroupName are mutually exclusive",
                ));
            }
            (None, None) => {
                return Err(ApiError::validation(
                    "Either ClusterIdentifier or WorkgroupName is required",
                ));
            }
            (None, Some(_)) if self.db_user.is_some() => {
                return Err(ApiError::validation(
                    "DbUser is not supported with WorkgroupName",
                ));
            }
            _ => {}
        }
        let user = identity::sign_in(
            caller.access_key.as_deref(),
            self.db_user.as_deref(),
            self.secret_arn.as_deref(),
            secrets,
        )
        .map_err(|SignInError::UnknownSecret(arn)| {
            ApiError::validation(format!(
                "Secrets Manager can't find the specified secret: {arn}"
            ))
        })?;
        Ok(Target {
            database,
            isolation: Isolation::of_target(self.workgroup_name.is_some(), isolation),
            cluster_identifier: self.cluster_identifier,
            workgroup_name: self.workgroup_name,
            db_user: self.db_user,
            secret_arn: self.secret_arn,
            user,
            caller: caller.access_key.clone(),
        })
    }
}

/// Parameter members are lower-case on the wire, unlike the operations' members.
#[derive(Deserialize)]
struct SqlParameter {
    name: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ExecuteRequest {
    sql: String,
    #[serde(flatten)]
    target: TargetFields,
    statement_name: Option<String>,
    client_token: Option<String>,
    parameters: Option<Vec<SqlParameter>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchRequest {
    sqls: Vec<String>,
    #[serde(flatten)]
    target: TargetFields,
    statement_name: Option<String>,
    client_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IdRequest {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeRequest {
    id: String,
    wait_time_seconds: Option<u64>,
}

/// The longest DescribeStatement may wait for a statement to end ("The maximum value is 30
/// seconds", the API reference's WaitTimeSeconds).
const MAX_WAIT_TIME_SECONDS: u64 = 30;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResultRequest {
    id: String,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListRequest {
    max_results: Option<u32>,
    next_token: Option<String>,
    status: Option<String>,
    statement_name: Option<String>,
}
