//! Statements as the Data API keeps them, and the runner that moves each through
//! SUBMITTED → PICKED → STARTED → FINISHED / FAILED / ABORTED in real time.

use crate::backend::{self, Outcome, Pool, ResultSet};
use crate::faults::BatchFaults;
use crate::{copy, dialect};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_postgres::{CancelToken, NoTls};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Submitted,
    Picked,
    Started,
    Finished,
    Failed,
    Aborted,
}

impl Status {
    pub fn is_final(self) -> bool {
        matches!(self, Status::Finished | Status::Failed | Status::Aborted)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "SUBMITTED",
            Status::Picked => "PICKED",
            Status::Started => "STARTED",
            Status::Finished => "FINISHED",
            Status::Failed => "FAILED",
            Status::Aborted => "ABORTED",
        }
    }
}

/// One SQL of a statement (the only one, for ExecuteStatement).
#[derive(Debug, Clone)]
pub struct Sub {
    pub sql: String,
    pub status: Status,
    pub error: Option<String>,
    pub result_rows: i64,
    /// Shared, not copied: every DescribeStatement and GetStatementResult takes a copy of the
    /// statement, and a result can hold hundreds of thousands of rows.
    pub result: Option<Arc<ResultSet>>,
    pub created_at: f64,
    pub updated_at: f64,
    pub started: Option<f64>,
}

/// Who a statement ran as and where, echoed back by the API.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub database: String,
    pub cluster_identifier: Option<String>,
    pub workgroup_name: Option<String>,
    pub db_user: Option<String>,
    pub secret_arn: Option<String>,
}

#[derive(Clone)]
pub struct Statement {
    pub id: String,
    pub name: Option<String>,
    pub is_batch: bool,
    pub subs: Vec<Sub>,
    pub status: Status,
    pub error: Option<String>,
    pub created_at: f64,
    pub updated_at: f64,
    pub target: Target,
    pub parameters: HashMap<String, String>,
    /// Redshift's numeric query id, as `stl_load_errors.query` records it.
    pub query_id: i64,
    cancel_requested: bool,
}

impl Statement {
    pub fn result_rows(&self) -> i64 {
        if self.status != Status::Finished {
            return -1;
        }
        if self.is_batch {
            self.subs.iter().map(|s| s.result_rows.max(0)).sum()
        } else {
            self.subs[0].result_rows
        }
    }
}

pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Every statement of this process, in submission order.
#[derive(Default)]
pub struct Store {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    statements: HashMap<String, Statement>,
    order: Vec<String>,
    last_query_id: i64,
    client_tokens: HashMap<String, String>,
}

/// What a caller asks to run.
pub struct Submission {
    pub sqls: Vec<String>,
    pub is_batch: bool,
    pub name: Option<String>,
    pub target: Target,
    pub parameters: HashMap<String, String>,
    pub client_token: Option<String>,
}

/// The outcome of CancelStatement on a statement that exists.
#[derive(Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    Cancelled,
    AlreadyFinal(Status),
}

impl Store {
    /// Records a statement, or returns the one already recorded under the same client token
    /// (and `false`, so it is not started twice).
    pub fn submit(&self, submission: Submission) -> (Statement, bool) {
        let mut inner = self.inner.lock().expect("store lock");
        if let Some(token) = &submission.client_token
            && let Some(id) = inner.client_tokens.get(token)
        {
            return (inner.statements[id].clone(), false);
        }
        let at = now();
        let id = uuid::Uuid::new_v4().to_string();
        inner.last_query_id += 1;
        let query_id = inner.last_query_id;
        let statement = Statement {
            id: id.clone(),
            name: submission.name,
            is_batch: submission.is_batch,
            subs: submission
                .sqls
                .into_iter()
                .map(|sql| Sub {
                    sql,
                    status: Status::Submitted,
                    error: None,
                    result_rows: -1,
                    result: None,
                    created_at: at,
                    updated_at: at,
                    started: None,
                })
                .collect(),
            status: Status::Submitted,
            error: None,
            created_at: at,
            updated_at: at,
            target: submission.target,
            parameters: submission.parameters,
            query_id,
            cancel_requested: false,
        };
        if let Some(token) = submission.client_token {
            inner.client_tokens.insert(token, id.clone());
        }
        inner.order.push(id.clone());
        inner.statements.insert(id, statement.clone());
        (statement, true)
    }

    pub fn get(&self, id: &str) -> Option<Statement> {
        self.inner
            .lock()
            .expect("store lock")
            .statements
            .get(id)
            .cloned()
    }

    /// Newest first, as ListStatements returns them.
    pub fn newest_first(&self) -> Vec<Statement> {
        let inner = self.inner.lock().expect("store lock");
        inner
            .order
            .iter()
            .rev()
            .map(|id| inner.statements[id].clone())
            .collect()
    }

    fn update<T>(&self, id: &str, change: impl FnOnce(&mut Statement) -> T) -> T {
        let mut inner = self.inner.lock().expect("store lock");
        let statement = inner.statements.get_mut(id).expect("runner ids exist");
        let result = change(statement);
        statement.updated_at = now();
        result
    }

    fn cancel_requested(&self, id: &str) -> bool {
        self.inner.lock().expect("store lock").statements[id].cancel_requested
    }

    /// Marks a statement for cancellation; its runner then cancels the query it is running.
    pub fn cancel(&self, id: &str) -> Option<CancelOutcome> {
        let mut inner = self.inner.lock().expect("store lock");
        let statement = inner.statements.get_mut(id)?;
        if statement.status.is_final() {
            return Some(CancelOutcome::AlreadyFinal(statement.status));
        }
        statement.cancel_requested = true;
        Some(CancelOutcome::Cancelled)
    }
}

/// How often a runner looks for a cancel request while its SQL runs.
const CANCEL_POLL: Duration = Duration::from_millis(20);

/// How long one cancel request may wait for the server to take it (the embedded server serves
/// one connection at a time, so it never does: the statement then ends when its SQL does).
const CANCEL_WAIT: Duration = Duration::from_secs(2);

/// Runs `work`, one SQL of statement `id` on the connection `token` belongs to, to its end.
/// Once the statement is marked for cancellation, asks the server to cancel the query, and asks
/// again until the SQL ends: PostgreSQL ignores a cancel request that reaches it before the query
/// does. Also says whether any request was sent, since a late one could still land on whatever
/// the connection runs next.
async fn cancellable<T>(
    store: &Store,
    id: &str,
    token: &CancelToken,
    work: impl Future<Output = T>,
) -> (T, bool) {
    let mut work = std::pin::pin!(work);
    let mut sent = false;
    loop {
        tokio::select! {
            out = &mut work => return (out, sent),
            () = tokio::time::sleep(CANCEL_POLL) => {}
        }
        if !store.cancel_requested(id) {
            continue;
        }
        sent = true;
        tokio::select! {
            out = &mut work => return (out, sent),
            asked = tokio::time::timeout(CANCEL_WAIT, token.cancel_query(NoTls)) => match asked {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::warn!(statement_id = id, error = %err, "cancel request failed")
                }
                Err(_) => tracing::warn!(statement_id = id, "cancel request not answered"),
            },
        }
    }
}

/// What the runner needs besides the statement.
pub struct Runner {
    pub store: Arc<Store>,
    pub pool: Arc<Pool>,
    /// Where COPY reads S3; None when the stand-in was started without S3.
    pub s3: Option<aws_sdk_s3::Client>,
    /// Every statement stays STARTED at least this long (a test switch; zero by default).
    pub min_statement_time: std::time::Duration,
    /// Fault switches armed by tests (none by default).
    pub faults: Arc<crate::faults::Faults>,
}

/// How a statement's SQL ended, before its final status is written.
enum Ending {
    Committed,
    Failed { sub: Option<usize>, error: String },
    Aborted,
}

/// Runs statement `id` to a final status. A batch is one transaction: the first failure rolls
/// back every sub-statement. Transactions are SERIALIZABLE, Redshift's isolation level: a
/// transaction that would break it fails with Redshift's error 1023. COPY's rejected records are written to the load-error tables once
/// the transaction has ended, committed or not.
pub async fn run(runner: Arc<Runner>, id: String) {
    let store = &runner.store;
    store.update(&id, |s| s.status = Status::Picked);
    let mut conn = match runner.pool.get().await {
        Ok(conn) => conn,
        Err(error) => return finish_failed(store, &id, None, error),
    };
    let (sqls, parameters, is_batch, query_id, cancelled, name) = store.update(&id, |s| {
        if !s.cancel_requested {
            s.status = Status::Started;
        }
        (
            s.subs.iter().map(|sub| sub.sql.clone()).collect::<Vec<_>>(),
            s.parameters.clone(),
            s.is_batch,
            s.query_id,
            s.cancel_requested,
            s.name.clone(),
        )
    });
    if cancelled {
        return finish_aborted(store, &id);
    }
    if !runner.min_statement_time.is_zero() {
        tokio::time::sleep(runner.min_statement_time).await;
        if store.cancel_requested(&id) {
            return finish_aborted(store, &id);
        }
    }
    let faults = if is_batch {
        runner.faults.for_batch(name.as_deref(), sqls.len())
    } else {
        BatchFaults::default()
    };
    let client = conn.client();
    let mut load_errors = Vec::new();
    let work = Work {
        sqls: &sqls,
        parameters: &parameters,
        is_batch,
        faults,
    };
    let mut cancel_sent = false;
    let ending = run_sqls(
        &runner,
        client,
        &id,
        work,
        &mut load_errors,
        &mut cancel_sent,
    )
    .await;
    if !load_errors.is_empty()
        && let Err(err) = copy::record_errors(client, query_id, &load_errors).await
    {
        tracing::error!(statement_id = %id, error = %err, "could not record load errors");
    }
    if cancel_sent {
        // A cancel request still on its way would hit whatever the connection ran next.
        conn.close();
    } else if let Err(err) = client.batch_execute("DISCARD TEMP").await {
        // Each Data API call runs in a session of its own, so temporary tables end with it; here
        // the connection goes back to the pool, so they are dropped instead. (A failed batch's
        // were already rolled back with it.)
        tracing::warn!(statement_id = %id, error = %err, "could not drop the session's temporary tables");
    }
    match ending {
        Ending::Committed => store.update(&id, |s| s.status = Status::Finished),
        Ending::Aborted => finish_aborted(store, &id),
        Ending::Failed { sub, error } => finish_failed(store, &id, sub, error),
    }
}

/// What a statement runs: its SQL, its parameters, whether it is a batch (one transaction), and
/// the faults it runs into.
struct Work<'a> {
    sqls: &'a [String],
    parameters: &'a HashMap<String, String>,
    is_batch: bool,
    faults: BatchFaults,
}

async fn run_sqls(
    runner: &Runner,
    client: &tokio_postgres::Client,
    id: &str,
    work: Work<'_>,
    load_errors: &mut Vec<copy::LoadError>,
    cancel_sent: &mut bool,
) -> Ending {
    let token = client.cancel_token();
    let Work {
        sqls,
        parameters,
        is_batch,
        faults,
    } = work;
    let store = &runner.store;
    if is_batch
        && let Err(err) = client
            .batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
            .await
    {
        return Ending::Failed {
            sub: None,
            error: backend::error_text(&err),
        };
    }
    for (index, sql) in sqls.iter().enumerate() {
        store.update(id, |s| {
            s.subs[index].status = Status::Started;
            s.subs[index].started = Some(now());
        });
        if faults.drop_at == Some(index) {
            // The session ends under the open transaction, as when a warehouse node restarts.
            if let Err(error) = runner.pool.terminate(client).await {
                tracing::warn!(statement_id = %id, %error, "could not drop the connection");
            }
        }
        let outcome = if store.cancel_requested(id) {
            Err("ERROR: canceling statement due to user request".to_owned())
        } else if faults.fail_at == Some(index) {
            Err(format!(
                "ERROR: injected failure at sub-statement {}",
                index + 1
            ))
        } else {
            let sql = run_sql(runner, client, sql, parameters, load_errors);
            let (outcome, sent) = cancellable(store, id, &token, sql).await;
            *cancel_sent |= sent;
            outcome
        };
        match outcome {
            Ok(Outcome { rows, result }) => store.update(id, |s| {
                let sub = &mut s.subs[index];
                sub.status = Status::Finished;
                sub.result_rows = rows;
                sub.result = result.map(Arc::new);
                sub.updated_at = now();
            }),
            Err(error) => {
                if is_batch {
                    // A failed ROLLBACK means the connection is gone, which ends the
                    // transaction just the same.
                    let _ = client.batch_execute("ROLLBACK").await;
                }
                let cancelled = store.cancel_requested(id);
                if cancelled || backend::is_cancellation(&error) {
                    return Ending::Aborted;
                }
                return Ending::Failed {
                    sub: Some(index),
                    error,
                };
            }
        }
    }
    if faults.conflict {
        let _ = client.batch_execute("ROLLBACK").await;
        return Ending::Failed {
            sub: Some(sqls.len() - 1),
            error: backend::SERIALIZATION_CONFLICT_INJECTED.to_owned(),
        };
    }
    if is_batch && let Err(err) = client.batch_execute("COMMIT").await {
        return Ending::Failed {
            sub: None,
            error: backend::error_text(&err),
        };
    }
    Ending::Committed
}

/// Runs one SQL of a statement: a COPY through the S3 client, anything else translated.
async fn run_sql(
    runner: &Runner,
    client: &tokio_postgres::Client,
    sql: &str,
    parameters: &HashMap<String, String>,
    load_errors: &mut Vec<copy::LoadError>,
) -> Result<Outcome, String> {
    match copy::parse(sql)? {
        Some(command) => {
            let Some(s3) = &runner.s3 else {
                return Err(
                    "ERROR: COPY needs S3, and the local stand-in was started without it"
                        .to_owned(),
                );
            };
            match copy::run(client, s3, &command).await {
                Ok(report) => {
                    load_errors.extend(report.errors);
                    Ok(Outcome {
                        rows: report.rows_loaded,
                        result: None,
                    })
                }
                Err((error, errors)) => {
                    load_errors.extend(errors);
                    Err(error)
                }
            }
        }
        None => {
            let translated = dialect::translate(sql, parameters).map_err(|err| err.to_string())?;
            backend::run(client, &translated).await
        }
    }
}

fn finish_failed(store: &Store, id: &str, failed_sub: Option<usize>, error: String) {
    tracing::info!(statement_id = id, error = %error, "statement failed");
    store.update(id, |s| {
        for (index, sub) in s.subs.iter_mut().enumerate() {
            if Some(index) == failed_sub {
                sub.status = Status::Failed;
                sub.error = Some(error.clone());
            } else if !sub.status.is_final() {
                sub.status = Status::Aborted;
            }
            sub.updated_at = now();
        }
        s.status = Status::Failed;
        s.error = Some(error);
    });
}

fn finish_aborted(store: &Store, id: &str) {
    store.update(id, |s| {
        for sub in &mut s.subs {
            if sub.status != Status::Finished {
                sub.status = Status::Aborted;
            }
        }
        s.status = Status::Aborted;
    });
}
