//! Statements as the Data API keeps them, and the runner that moves each through
//! SUBMITTED → PICKED → STARTED → FINISHED / FAILED / ABORTED in real time.

use crate::backend::{self, Outcome, Pool, ResultSet};
use crate::faults::BatchFaults;
use crate::identity::{self, DbUser};
use crate::maintenance::Written;
use crate::transactions::{self, Isolation};
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
    /// The result's size in bytes as GetStatementResult returns its records; -1 without one.
    pub result_size: i64,
    pub created_at: f64,
    pub updated_at: f64,
    pub started: Option<f64>,
}

/// Who a statement ran as and where, echoed back by the API.
#[derive(Debug, Clone)]
pub struct Target {
    pub database: String,
    pub cluster_identifier: Option<String>,
    pub workgroup_name: Option<String>,
    pub db_user: Option<String>,
    pub secret_arn: Option<String>,
    /// The database user it signed in as ([`identity::sign_in`]).
    pub user: DbUser,
    /// The isolation level its transactions run at.
    pub isolation: Isolation,
    /// The caller's access key ID: ListStatements shows a caller only its own statements.
    pub caller: Option<String>,
}

impl Target {
    /// A workgroup has the SYS_ monitoring views only; a cluster has the STL_ ones as well.
    pub fn search_path(&self) -> &'static str {
        if self.workgroup_name.is_some() {
            "SET search_path TO \"$user\", public, redshift_local_sys"
        } else {
            "SET search_path TO \"$user\", public, redshift_local_sys, redshift_local_stl"
        }
    }
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

/// How long a client token names the statement it started: "The maximum retention time for a
/// client token used in ExecuteStatement or BatchExecuteStatement API operation is 8 hours."
pub const CLIENT_TOKEN_RETENTION: Duration = Duration::from_secs(8 * 3600);

/// Every statement of this process, in submission order.
pub struct Store {
    inner: Mutex<Inner>,
    /// How long a client token is kept ([`CLIENT_TOKEN_RETENTION`]; tests shorten it).
    pub client_token_retention: Duration,
    /// Told whenever a statement reaches a final status, so a DescribeStatement waiting on one
    /// answers as it ends ([`Store::until_final`]).
    ended: tokio::sync::Notify,
}

impl Default for Store {
    fn default() -> Self {
        Self::with_client_token_retention(CLIENT_TOKEN_RETENTION)
    }
}

impl Store {
    pub fn with_client_token_retention(retention: Duration) -> Self {
        Self {
            inner: Mutex::default(),
            client_token_retention: retention,
            ended: tokio::sync::Notify::new(),
        }
    }
}

#[derive(Default)]
struct Inner {
    statements: HashMap<String, Statement>,
    order: Vec<String>,
    last_query_id: i64,
    /// Client token → the statement it started and when.
    client_tokens: HashMap<String, (String, f64)>,
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
    /// (and `false`, so it is not started twice). A token the store holds with other SQL or
    /// parameters is refused (`Err`): the Data API reference only says the token ensures "the
    /// idempotency of the request"; AWS's APIs that say more fail a token reused with different
    /// parameters (IdempotentParameterMismatch, ConflictException), so the strict reading.
    pub fn submit(&self, submission: Submission) -> Result<(Statement, bool), String> {
        let mut inner = self.inner.lock().expect("store lock");
        let at = now();
        let retention = self.client_token_retention.as_secs_f64();
        if let Some(token) = &submission.client_token
            && let Some((id, since)) = inner.client_tokens.get(token)
            && at - since < retention
        {
            let known = &inner.statements[id];
            let same = known.is_batch == submission.is_batch
                && known.parameters == submission.parameters
                && known.subs.len() == submission.sqls.len()
                && known
                    .subs
                    .iter()
                    .zip(&submission.sqls)
                    .all(|(sub, sql)| &sub.sql == sql);
            if !same {
                return Err(format!(
                    "ClientToken {token} was used with different SQL or parameters by statement {id}"
                ));
            }
            return Ok((known.clone(), false));
        }
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
                    result_size: -1,
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
            inner.client_tokens.insert(token, (id.clone(), at));
        }
        inner.order.push(id.clone());
        inner.statements.insert(id, statement.clone());
        Ok((statement, true))
    }

    /// Statements not yet FINISHED, FAILED or ABORTED.
    pub fn active(&self) -> usize {
        let inner = self.inner.lock().expect("store lock");
        inner
            .statements
            .values()
            .filter(|s| !s.status.is_final())
            .count()
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
        let ended = statement.status.is_final();
        drop(inner);
        if ended {
            self.ended.notify_waiters();
        }
        result
    }

    /// Whether statement `id` exists and has not reached a final status.
    fn is_running(&self, id: &str) -> bool {
        let inner = self.inner.lock().expect("store lock");
        inner
            .statements
            .get(id)
            .is_some_and(|statement| !statement.status.is_final())
    }

    /// Returns once statement `id` has reached a final status (or does not exist), or at `until`,
    /// whichever comes first: woken as the statement ends, not on a poll.
    pub async fn until_final(&self, id: &str, until: tokio::time::Instant) {
        loop {
            let ended = self.ended.notified();
            let mut ended = std::pin::pin!(ended);
            // Registered before the status is read, so an end between the two still wakes it.
            ended.as_mut().enable();
            if !self.is_running(id) {
                return;
            }
            if tokio::time::timeout_at(until, ended).await.is_err() {
                return;
            }
        }
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
    pub s3: Option<copy::S3Reads>,
    /// The warehouse's region: where COPY reads S3 when it names no REGION.
    pub region: String,
    /// Every statement stays STARTED at least this long (a test switch; zero by default).
    pub min_statement_time: std::time::Duration,
    /// Fault switches armed by tests (none by default).
    pub faults: Arc<crate::faults::Faults>,
    /// The clusters served, and whether each takes queries now.
    pub clusters: Arc<crate::clusters::Clusters>,
    /// The keys the warehouse's tables declare, which queries are planned with.
    pub keys: Arc<crate::keys::DeclaredKeys>,
    /// What each table's committed writes left to vacuum and to analyze.
    pub maintenance: crate::maintenance::Maintenance,
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
    let (sqls, parameters, is_batch, query_id, cancelled, name, target) = store.update(&id, |s| {
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
            s.target.clone(),
        )
    });
    if cancelled {
        return finish_aborted(store, &id);
    }
    // The session runs as the signed-in user from here on, with the target's system views.
    let signed_in = async {
        identity::become_user(conn.client(), &target.user).await?;
        conn.client()
            .batch_execute(target.search_path())
            .await
            .map_err(|err| backend::error_text(&err))
    };
    if let Err(error) = signed_in.await {
        conn.close();
        return finish_failed(store, &id, None, error);
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
        target: &target,
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
    // Back to the admin: the load-error tables and the clean-up are the warehouse's own.
    let reset = identity::become_user(client, &DbUser::Admin).await;
    if let Err(err) = &reset {
        tracing::warn!(statement_id = %id, error = %err, "could not sign the session out");
    }
    if !load_errors.is_empty()
        && let Err(err) = copy::record_errors(
            client,
            query_id,
            target.user.name(),
            &target.database,
            &load_errors,
        )
        .await
    {
        tracing::error!(statement_id = %id, error = %err, "could not record load errors");
    }
    if cancel_sent || reset.is_err() {
        // A cancel request still on its way would hit whatever the connection ran next; a
        // session still signed in as a user must not serve the next statement.
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
    target: &'a Target,
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
        target,
        faults,
    } = work;
    let isolation = target.isolation;
    let store = &runner.store;
    // A batch is one transaction; so is a single write (its lock and its rows commit together)
    // and a single LOCK, which PostgreSQL takes only inside a transaction block.
    let in_transaction = is_batch || needs_transaction(&sqls[0], parameters);
    // What this transaction's statements wrote, for the maintenance after it commits.
    let mut written: Vec<Written> = Vec::new();
    if in_transaction && let Err(err) = client.batch_execute(isolation.begin()).await {
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
        if let Some((at, millis)) = faults.pause_at
            && at == index
        {
            tokio::time::sleep(Duration::from_millis(millis)).await;
        }
        if faults.drop_at == Some(index) {
            // The session ends under the open transaction, as when a warehouse node restarts.
            if let Err(error) = runner.pool.terminate(client).await {
                tracing::warn!(statement_id = %id, %error, "could not drop the connection");
            }
        }
        let written_before = written.len();
        let outcome = if store.cancel_requested(id) {
            Err("ERROR: canceling statement due to user request".to_owned())
        } else if faults.fail_at == Some(index) {
            Err(format!(
                "ERROR: injected failure at sub-statement {}",
                index + 1
            ))
        } else {
            let sql = run_sql(
                runner,
                client,
                sql,
                parameters,
                target,
                (load_errors, &mut written),
            );
            let (outcome, sent) = cancellable(store, id, &token, sql).await;
            *cancel_sent |= sent;
            outcome.and_then(|outcome| {
                let size = outcome.result.as_ref().map(ResultSet::within_limits);
                Ok((outcome, size.transpose()?))
            })
        };
        if let (Ok((Outcome { rows, .. }, _)), Some(write)) =
            (&outcome, written.get_mut(written_before))
        {
            write.rows = (*rows).max(0);
        }
        match outcome {
            Ok((Outcome { rows, result }, size)) => store.update(id, |s| {
                let sub = &mut s.subs[index];
                sub.status = Status::Finished;
                sub.result_rows = rows;
                sub.result = result.map(Arc::new);
                sub.result_size = size.map_or(-1, |bytes| bytes as i64);
                sub.updated_at = now();
            }),
            Err(error) => {
                if in_transaction {
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
    if in_transaction && let Err(err) = client.batch_execute("COMMIT").await {
        return Ending::Failed {
            sub: None,
            error: backend::error_text_at(&err, isolation.conflict_words()),
        };
    }
    runner.maintenance.after_commit(client, &written).await;
    Ending::Committed
}

/// Whether a single SQL runs in a transaction of its own: a write or a LOCK does.
fn needs_transaction(sql: &str, parameters: &HashMap<String, String>) -> bool {
    match copy::parse(sql) {
        Ok(Some(_)) => true,
        Ok(None) => dialect::translate(sql, parameters)
            .is_ok_and(|t| t.write_target.is_some() || t.is_lock || t.creates_if_missing.is_some()),
        Err(_) => false,
    }
}

/// Runs one SQL of a statement: a COPY through the S3 client, anything else translated. A write
/// first takes Redshift's write lock on its table.
async fn run_sql(
    runner: &Runner,
    client: &tokio_postgres::Client,
    sql: &str,
    parameters: &HashMap<String, String>,
    target: &Target,
    (load_errors, written): (&mut Vec<copy::LoadError>, &mut Vec<Written>),
) -> Result<Outcome, String> {
    let isolation = target.isolation;
    match copy::parse(sql)? {
        Some(command) => {
            let Some(s3) = &runner.s3 else {
                return Err(
                    "ERROR: COPY needs S3, and the local stand-in was started without it"
                        .to_owned(),
                );
            };
            if let (Some(role), Some(cluster)) = (&command.iam_role, &target.cluster_identifier)
                && let Some(refused) = runner.clusters.check_copy_role(
                    cluster,
                    target.user.name().unwrap_or("admin"),
                    role,
                    &runner.region,
                )
            {
                return Err(refused);
            }
            transactions::lock_for_write(client, &command.table, &target.user, isolation).await?;
            written.push(Written {
                table: command.table.clone(),
                rows: 0,
                leaves_dead_rows: false,
            });
            let s3 = s3.in_region(command.region.as_deref().unwrap_or(&runner.region));
            let error_view = if target.workgroup_name.is_some() {
                "sys_load_error_detail"
            } else {
                "stl_load_errors"
            };
            match copy::run(client, &s3, &command, error_view).await {
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
            let translated = dialect::translate_with(sql, parameters, Some(&runner.keys))
                .map_err(|err| err.to_string())?;
            if let Some(table) = &translated.write_target {
                transactions::lock_for_write(client, table, &target.user, isolation).await?;
                written.push(Written {
                    table: table.clone(),
                    rows: 0,
                    leaves_dead_rows: translated.leaves_dead_rows,
                });
            }
            let existed = match &translated.creates_if_missing {
                Some(table) => transactions::exists(client, table).await?,
                None => false,
            };
            if let (true, Some(table)) = (existed, &translated.creates_if_missing) {
                transactions::lock_for_write(client, table, &target.user, isolation).await?;
            }
            let outcome = backend::run_at(client, &translated, isolation.conflict_words()).await?;
            if let (false, Some(index)) = (existed, &translated.zone_maps) {
                client
                    .batch_execute(index)
                    .await
                    .map_err(|err| backend::error_text(&err))?;
            }
            Ok(outcome)
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    fn submitted(store: &Store) -> String {
        let submission = Submission {
            sqls: vec!["SELECT 1".to_owned()],
            is_batch: false,
            name: None,
            target: Target {
                database: "dev".to_owned(),
                cluster_identifier: None,
                workgroup_name: Some("local".to_owned()),
                db_user: None,
                secret_arn: None,
                user: DbUser::Admin,
                isolation: Isolation::Snapshot,
                caller: None,
            },
            parameters: HashMap::new(),
            client_token: None,
        };
        store.submit(submission).expect("submitted").0.id
    }

    /// The waiter is woken by the statement's end: a few turns of the runtime later it has
    /// returned, with no timer fired (a poll, as DescribeStatement's wait once was, would still
    /// be sleeping out its 20 ms).
    #[tokio::test]
    async fn a_wait_on_a_statement_ends_the_moment_the_statement_does() {
        let store = Arc::new(Store::default());
        let id = submitted(&store);
        let until = Instant::now() + Duration::from_secs(30);
        let waiter = tokio::spawn({
            let (store, id) = (store.clone(), id.clone());
            async move { store.until_final(&id, until).await }
        });
        tokio::task::yield_now().await;
        store.update(&id, |s| s.status = Status::Started);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "the statement is still running");
        store.update(&id, |s| s.status = Status::Finished);
        for _ in 0..10 {
            if waiter.is_finished() {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(
            waiter.is_finished(),
            "the wait did not end with the statement"
        );
        // Already final: at once, not at its deadline 30 s away.
        let start = Instant::now();
        store.until_final(&id, until).await;
        assert!(start.elapsed() < Duration::from_secs(5));
        // Still running: at the deadline.
        let start = Instant::now();
        let running = submitted(&store);
        store
            .until_final(&running, start + Duration::from_millis(50))
            .await;
        assert!(start.elapsed() >= Duration::from_millis(50));
    }
}
