//! What the stand-in's tests share: the two backends a stand-in can run on, the SDK client for
//! it, and `on!`, which runs each test once per backend.

use aws_sdk_redshiftdata::Client;
use aws_sdk_redshiftdata::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_redshiftdata::types::StatusString;
use redshift_local::LocalConfig;
use redshift_local::embedded::EmbeddedPostgres;
use redshift_local::managed::ManagedPostgres;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    /// The default: PostgreSQL 17.5 in WASM, in this process, one connection.
    Embedded,
    /// A real PostgreSQL 15 from the machine's server binaries, used as an external server is
    /// (not by every test file: what one shows of S3 does not depend on the database).
    #[allow(dead_code)]
    Binaries,
}

/// Kept alive for the test; dropping it stops the server. Each test's environment declares it
/// after the stand-in, so it is dropped last: the stand-in has been told to stop before the
/// embedded server's stop starts waiting (up to 5 s) for its one connection, which the stand-in's
/// pool keeps open while its server task, or a statement still running, holds it.
#[allow(dead_code)]
pub enum Server {
    Embedded(EmbeddedPostgres),
    Binaries(ManagedPostgres),
}

/// Starts the backend and gives the stand-in's configuration for it, on free loopback ports.
pub fn server(backend: Backend) -> (Server, LocalConfig) {
    let (server, mut config) = match backend {
        Backend::Embedded => {
            let server = EmbeddedPostgres::start().expect("embedded PostgreSQL starts");
            let mut config = LocalConfig::new(server.url());
            config.connections = EmbeddedPostgres::CONNECTIONS;
            (Server::Embedded(server), config)
        }
        Backend::Binaries => {
            let server = ManagedPostgres::start().expect("PostgreSQL starts");
            let config = LocalConfig::new(server.url());
            (Server::Binaries(server), config)
        }
    };
    config.data_api_addr = SocketAddr::from(([127, 0, 0, 1], 0));
    config.s3_addr = SocketAddr::from(([127, 0, 0, 1], 0));
    (server, config)
}

/// Writes `bytes` as object `key` under a folder served as S3 (`bucket/key...`).
#[allow(dead_code)]
pub fn write(root: &Path, key: &str, bytes: &[u8]) {
    let path = root.join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// The real SDK client, pointed at a running stand-in, signed by the warehouse's admin.
#[allow(dead_code)]
pub fn client(data_api_url: String) -> Client {
    client_as(data_api_url, "local")
}

/// The real SDK client signed with `access_key_id`: `role:NAME` is the IAM role NAME, which the
/// stand-in signs in as database user `IAMR:NAME`.
#[allow(dead_code)]
pub fn client_as(data_api_url: String, access_key_id: &str) -> Client {
    let sdk = aws_sdk_redshiftdata::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .credentials_provider(Credentials::new(access_key_id, "local", None, None, "test"))
        .endpoint_url(data_api_url)
        .build();
    Client::from_conf(sdk)
}

/// Submits a batch as `etl` on the cluster `local` (the user who owns what the tests create);
/// returns its id.
#[allow(dead_code)]
pub async fn submit_batch(client: &Client, sqls: &[&str]) -> String {
    client
        .batch_execute_statement()
        .cluster_identifier("local")
        .database("dev")
        .db_user("etl")
        .set_sqls(Some(sqls.iter().map(|s| (*s).to_owned()).collect()))
        .send()
        .await
        .expect("BatchExecuteStatement accepted")
        .id
        .expect("an id")
}

/// Runs a batch as `etl` on the cluster `local` and follows it to its end (DescribeStatement's
/// long poll); returns its final status, its error and its id.
#[allow(dead_code)]
pub async fn batch_to_end(
    client: &Client,
    sqls: &[&str],
) -> (StatusString, Option<String>, String) {
    let id = submit_batch(client, sqls).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let described = client
            .describe_statement()
            .id(&id)
            .wait_time_seconds(5)
            .send()
            .await
            .unwrap();
        let status = described.status.clone().unwrap();
        if matches!(
            status,
            StatusString::Finished | StatusString::Failed | StatusString::Aborted
        ) {
            return (status, described.error, id);
        }
        assert!(Instant::now() < deadline, "{sqls:?} did not end");
    }
}

/// `on!(Embedded: test_a, test_b)` defines a tokio test `fn test_a()` calling the parent module's
/// `test_a(Backend::Embedded)`; used inside one module per backend. The runtime has a worker
/// thread beside the test's own: as the environment is dropped, the embedded server's stop blocks
/// the test's thread, and the stand-in's server task and its connection end on the worker (on the
/// one thread of a current-thread runtime they could not, and every embedded test took 5 s more).
#[macro_export]
macro_rules! on {
    ($backend:ident: $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
            async fn $name() {
                super::$name($crate::common::Backend::$backend).await
            }
        )*
    };
}
