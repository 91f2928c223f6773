//! The stand-in is a developer tool on loopback, and a web page the developer opens must not be
//! able to use it: a request whose Host header names anything but this machine (a DNS rebinding
//! attack's own host name) is refused on both ports, and the fault switches take only JSON, which
//! a cross-site form cannot send. Raw HTTP, so each header is exactly what the test writes.

mod common;

use common::{Backend, Server};
use redshift_local::Running;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Env {
    local: Running,
    root: PathBuf,
    /// Last, so the stand-in is told to stop before the server's stop waits (`common::Server`).
    _postgres: Server,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

async fn start(backend: Backend) -> Env {
    static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let root = std::env::temp_dir().join(format!(
        "redshift-local-loopback-{}-{}",
        std::process::id(),
        STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(root.join("home-bucket")).unwrap();
    let (postgres, mut config) = common::server(backend);
    config.s3_roots = vec![root.clone()];
    let local = redshift_local::start(config)
        .await
        .expect("stand-in starts");
    Env {
        _postgres: postgres,
        local,
        root,
    }
}

/// One raw HTTP exchange: the status and the body.
async fn exchange(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_owned();
    (status, body)
}

fn get(path: &str, host: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
}

fn list_statements(host: &str) -> String {
    let body = "{}";
    format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nX-Amz-Target: RedshiftData.ListStatements\r\n\
         Content-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Host names that are not this machine's are refused on the Data API port (every route) and on
/// the S3 port with 403 and a message naming the Host; localhost, 127.0.0.1 and [::1], with any
/// port, are served.
async fn only_loopback_host_names_are_served(backend: Backend) {
    let env = start(backend).await;
    let api = env.local.data_api_addr;
    let s3 = env.local.s3_addr.expect("S3 served");
    for host in [
        "rebound.example".to_owned(),
        format!("rebound.example:{}", api.port()),
        "localhost.rebound.example".to_owned(),
        "127.0.0.1.nip.io".to_owned(),
        "10.1.2.3".to_owned(),
    ] {
        for request in [
            get("/_local/requests", &host),
            get("/_local/clusters", &host),
            list_statements(&host),
        ] {
            let (status, body) = exchange(api, &request).await;
            assert_eq!(status, 403, "{host}: {body}");
            assert!(
                body.contains("Host") && body.contains("loopback"),
                "{host}: {body}"
            );
        }
        let (status, body) = exchange(s3, &get("/home-bucket", &host)).await;
        assert_eq!(status, 403, "S3 {host}: {body}");
        assert!(body.contains("loopback"), "S3 {host}: {body}");
    }
    for host in [
        "localhost".to_owned(),
        "LocalHost".to_owned(),
        format!("localhost:{}", api.port()),
        format!("127.0.0.1:{}", api.port()),
        "127.0.0.1".to_owned(),
        format!("[::1]:{}", api.port()),
    ] {
        let (status, body) = exchange(api, &get("/_local/requests", &host)).await;
        assert_eq!(status, 200, "{host}: {body}");
        let (status, body) = exchange(api, &list_statements(&host)).await;
        assert_ne!(status, 403, "{host}: {body}");
        // Unsigned, so refused by S3's own rule, not by the host check.
        let (status, body) = exchange(s3, &get("/home-bucket", &host)).await;
        assert_eq!(status, 403, "S3 {host}: {body}");
        assert!(!body.contains("loopback"), "S3 {host}: {body}");
    }
}

fn arm_with(content_type: Option<&str>, fault: &str) -> String {
    let content_type =
        content_type.map_or(String::new(), |value| format!("Content-Type: {value}\r\n"));
    format!(
        "POST /_local/faults HTTP/1.1\r\nHost: localhost\r\n{content_type}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{fault}",
        fault.len()
    )
}

/// `POST /_local/faults` arms a fault only with `Content-Type: application/json`: a form or a
/// text/plain POST, which any web page may send cross-site without asking, is 415 and arms
/// nothing.
async fn faults_are_armed_only_by_a_json_request(backend: Backend) {
    let env = start(backend).await;
    let api = env.local.data_api_addr;
    let fault = r#"{"kind": "server-error", "operation": "ExecuteStatement", "times": 100}"#;
    for content_type in [
        None,
        Some("text/plain"),
        Some("text/plain; charset=utf-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonp"),
    ] {
        let (status, body) = exchange(api, &arm_with(content_type, fault)).await;
        assert_eq!(status, 415, "{content_type:?}: {body}");
        assert!(
            body.contains("application/json"),
            "{content_type:?}: {body}"
        );
    }
    // Nothing was armed: a statement runs.
    let client = common::client(env.local.data_api_url());
    client
        .execute_statement()
        .cluster_identifier("c")
        .database("dev")
        .sql("SELECT 1")
        .send()
        .await
        .expect("no fault armed");
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
    ] {
        let (status, body) = exchange(api, &arm_with(Some(content_type), fault)).await;
        assert_eq!(status, 204, "{content_type}: {body}");
    }
    assert!(
        client
            .execute_statement()
            .cluster_identifier("c")
            .database("dev")
            .sql("SELECT 1")
            .send()
            .await
            .is_err(),
        "the JSON request armed the fault"
    );
}

/// The management API (PauseCluster, ResumeCluster, ...) answers only a signed request: a form
/// POST, which any web page may send cross-site, carries no SigV4 `Authorization` header and is
/// 403 MissingAuthenticationToken, as AWS answers an unsigned request.
async fn the_management_api_answers_only_signed_requests(backend: Backend) {
    let env = start(backend).await;
    let api = env.local.data_api_addr;
    let body = "Action=DescribeClusters&Version=2012-12-01";
    let form = |authorization: &str| {
        format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             {authorization}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let (status, answer) = exchange(api, &form("")).await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("MissingAuthenticationToken"), "{answer}");
    let signed = "Authorization: AWS4-HMAC-SHA256 Credential=local/20261206/us-west-2/redshift/aws4_request, SignedHeaders=host, Signature=0\r\n";
    let (status, answer) = exchange(api, &form(signed)).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("DescribeClustersResponse"), "{answer}");
}

mod embedded {
    crate::on!(Embedded:
        only_loopback_host_names_are_served,
        faults_are_armed_only_by_a_json_request,
        the_management_api_answers_only_signed_requests,
    );
}

mod binaries {
    crate::on!(Binaries:
        only_loopback_host_names_are_served,
        faults_are_armed_only_by_a_json_request,
    );
}
