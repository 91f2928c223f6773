//! The stand-in's fault switches (`POST /_local/faults`), seen through the real
//! `aws-sdk-redshiftdata` client: each fault fails a call or a batch as Redshift and its Data API
//! do, and a failed batch leaves nothing behind.

mod common;

use aws_sdk_redshiftdata::Client;
use aws_sdk_redshiftdata::error::ProvideErrorMetadata;
use aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput;
use aws_sdk_redshiftdata::types::{Field, StatusString};
use common::{Backend, Server};
use redshift_local::Running;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Env {
    local: Running,
    client: Client,
    /// Last, so the stand-in is told to stop before the server's stop waits (`common::Server`).
    _postgres: Server,
}

async fn start(backend: Backend) -> Env {
    let (postgres, config) = common::server(backend);
    let local = redshift_local::start(config)
        .await
        .expect("stand-in starts");
    Env {
        _postgres: postgres,
        client: common::client(local.data_api_url()),
        local,
    }
}

impl Env {
    /// `POST /_local/faults` with `body`; returns the HTTP status.
    async fn arm(&self, body: &str) -> u16 {
        let addr = self.local.data_api_addr;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "POST /_local/faults HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response[9..12].parse().unwrap()
    }

    /// Submits `sqls` as a batch named `name` and waits for its end.
    async fn batch(&self, name: &str, sqls: &[&str]) -> DescribeStatementOutput {
        let id = self
            .client
            .batch_execute_statement()
            .cluster_identifier("local")
            .database("dev")
            .db_user("etl")
            .statement_name(name)
            .set_sqls(Some(sqls.iter().map(|s| (*s).to_owned()).collect()))
            .send()
            .await
            .expect("BatchExecuteStatement accepted")
            .id
            .expect("an id");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let described = self
                .client
                .describe_statement()
                .id(&id)
                .send()
                .await
                .unwrap();
            if matches!(
                described.status(),
                Some(StatusString::Finished | StatusString::Failed | StatusString::Aborted)
            ) {
                return described;
            }
            assert!(Instant::now() < deadline, "batch {id} did not end");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn rows_in_t(&self) -> i64 {
        let described = self.batch("count", &["SELECT COUNT(*) FROM t"]).await;
        assert_eq!(described.status(), Some(&StatusString::Finished));
        let result = self
            .client
            .get_statement_result()
            .id(format!("{}:1", described.id()))
            .send()
            .await
            .unwrap();
        match result.records()[0].as_slice() {
            [Field::LongValue(n)] => *n,
            other => panic!("expected one long, got {other:?}"),
        }
    }
}

fn sub_statuses(described: &DescribeStatementOutput) -> Vec<&str> {
    described
        .sub_statements()
        .iter()
        .map(|s| s.status().unwrap().as_str())
        .collect()
}

async fn a_conflict_or_a_failure_fails_the_named_batch_as_redshift_does_and_rolls_it_back(
    backend: Backend,
) {
    let env = start(backend).await;
    let created = env.batch("setup", &["CREATE TABLE t (a INTEGER)"]).await;
    assert_eq!(created.status(), Some(&StatusString::Finished));

    assert_eq!(
        env.arm(r#"{"kind": "conflict", "statement_name": "load", "times": 1}"#)
            .await,
        204
    );
    let two = ["INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)"];
    // Another name is not touched ...
    let other = env.batch("other", &two).await;
    assert_eq!(other.status(), Some(&StatusString::Finished));
    // ... the named batch runs, then loses the conflict at its commit: nothing of it stays.
    let lost = env.batch("load", &two).await;
    assert_eq!(lost.status(), Some(&StatusString::Failed));
    let error = lost.error().unwrap();
    assert!(
        error.starts_with("ERROR: 1023 DETAIL: Serializable isolation violation"),
        "{error}"
    );
    assert_eq!(sub_statuses(&lost), ["FINISHED", "FAILED"]);
    assert_eq!(env.rows_in_t().await, 2);
    // Spent after one firing.
    let again = env.batch("load", &two).await;
    assert_eq!(again.status(), Some(&StatusString::Finished));
    assert_eq!(env.rows_in_t().await, 4);

    assert_eq!(
        env.arm(r#"{"kind": "fail", "statement_name": "load", "sub_statement": 2}"#)
            .await,
        204
    );
    let three = [
        "INSERT INTO t VALUES (5)",
        "INSERT INTO t VALUES (6)",
        "INSERT INTO t VALUES (7)",
    ];
    let failed = env.batch("load", &three).await;
    assert_eq!(failed.status(), Some(&StatusString::Failed));
    assert_eq!(sub_statuses(&failed), ["FINISHED", "FAILED", "ABORTED"]);
    assert_eq!(
        failed.sub_statements()[1].error(),
        Some("ERROR: injected failure at sub-statement 2")
    );
    assert_eq!(env.rows_in_t().await, 4, "the first insert was rolled back");

    // A body that is not a fault is refused, and arms nothing.
    assert_eq!(env.arm(r#"{"kind": "explode"}"#).await, 400);
    let fine = env.batch("load", &three).await;
    assert_eq!(fine.status(), Some(&StatusString::Finished));
}

async fn throttling_answers_as_the_data_api_does_and_the_sdk_retries_it(backend: Backend) {
    let env = start(backend).await;
    // The SDK's standard retry makes 3 attempts: 2 throttled answers are absorbed ...
    env.arm(r#"{"kind": "throttle", "operation": "BatchExecuteStatement", "times": 2}"#)
        .await;
    let ok = env.batch("setup", &["CREATE TABLE t (a INTEGER)"]).await;
    assert_eq!(ok.status(), Some(&StatusString::Finished));
    // ... 3 reach the caller as ThrottlingException.
    env.arm(r#"{"kind": "throttle", "operation": "BatchExecuteStatement", "times": 3}"#)
        .await;
    let err = env
        .client
        .batch_execute_statement()
        .cluster_identifier("local")
        .database("dev")
        .db_user("etl")
        .sqls("SELECT 1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ThrottlingException"));
    // Other operations were never throttled, and the next call goes through.
    assert_eq!(env.rows_in_t().await, 0);
}

async fn a_delayed_operation_answers_late_and_then_as_usual(backend: Backend) {
    let env = start(backend).await;
    let created = env.batch("setup", &["CREATE TABLE t (a INTEGER)"]).await;
    let id = created.id().to_owned();
    let delay = std::time::Duration::from_millis(800);
    env.arm(r#"{"kind": "delay", "operation": "DescribeStatement", "millis": 800}"#)
        .await;
    let describe = || env.client.describe_statement().id(&id).send();
    let started = std::time::Instant::now();
    let late = describe().await.unwrap();
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    // The answer itself is the usual one, and the fault fired once.
    assert_eq!(late.status(), Some(&StatusString::Finished));
    let started = std::time::Instant::now();
    describe().await.unwrap();
    assert!(started.elapsed() < delay, "{:?}", started.elapsed());
}

/// The embedded server takes one connection at a time, so nothing can end its session from
/// outside: a dropped connection is tested on a real server only.
async fn a_dropped_connection_fails_the_batch_with_nothing_committed_and_the_next_one_runs(
    backend: Backend,
) {
    let env = start(backend).await;
    let created = env.batch("setup", &["CREATE TABLE t (a INTEGER)"]).await;
    assert_eq!(created.status(), Some(&StatusString::Finished));
    env.arm(r#"{"kind": "drop-connection", "statement_name": "load", "sub_statement": 2}"#)
        .await;
    let dropped = env
        .batch(
            "load",
            &["INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)"],
        )
        .await;
    assert_eq!(dropped.status(), Some(&StatusString::Failed));
    assert_eq!(sub_statuses(&dropped), ["FINISHED", "FAILED"]);
    assert!(
        dropped.error().unwrap().starts_with("ERROR: "),
        "{dropped:?}"
    );
    assert_eq!(env.rows_in_t().await, 0);
    let next = env.batch("load", &["INSERT INTO t VALUES (3)"]).await;
    assert_eq!(next.status(), Some(&StatusString::Finished));
    assert_eq!(env.rows_in_t().await, 1);
}

mod embedded {
    crate::on!(Embedded: a_conflict_or_a_failure_fails_the_named_batch_as_redshift_does_and_rolls_it_back,
        throttling_answers_as_the_data_api_does_and_the_sdk_retries_it,
        a_delayed_operation_answers_late_and_then_as_usual);
}

mod binaries {
    crate::on!(Binaries: a_conflict_or_a_failure_fails_the_named_batch_as_redshift_does_and_rolls_it_back,
        throttling_answers_as_the_data_api_does_and_the_sdk_retries_it,
        a_dropped_connection_fails_the_batch_with_nothing_committed_and_the_next_one_runs);
}
