//! A local stand-in for Amazon Redshift's Data API, backed by a real PostgreSQL, so the pipeline's
//! functions, the AWS SDKs and the AWS CLI can run against it unchanged.
//!
//! It is a developer tool on loopback, and the web pages a developer opens can reach loopback
//! too: a request whose Host header is not this machine's name ([`is_local_host`]: localhost,
//! 127.0.0.1, [::1] or the address it listens on, with any port) is refused with 403 on both
//! ports, so a page whose host name was rebound to 127.0.0.1 cannot use it; and the fault
//! switches (`POST /_local/faults`) take only `Content-Type: application/json`, which a cross-site
//! form cannot send.

pub mod api;
pub mod backend;
pub mod clusters;
pub mod copy;
pub mod dialect;
pub mod embedded;
pub mod faults;
pub mod identity;
pub mod keys;
pub mod maintenance;
pub mod managed;
pub mod management;
pub mod privileges;
pub mod requests;
pub mod s3;
pub mod statements;
pub mod transactions;
pub mod unsupported;
pub mod varchar;
pub mod zone_maps;

use api::Api;
use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::{Uri, header};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::serve::ListenerExt;
use backend::Pool;
use statements::{Runner, Store};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Where the stand-in listens and what it runs on.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Address of the Data API endpoint; port 0 picks a free one.
    pub data_api_addr: SocketAddr,
    /// `postgres://` URL of the server the SQL runs on.
    pub database_url: String,
    /// Connections to it: statements beyond this many wait their turn (PICKED).
    pub connections: usize,
    /// Rows per GetStatementResult page.
    pub page_rows: usize,
    /// Folders to serve as S3, one sub-folder per bucket (a bucket is served from the first
    /// folder that has it); COPY reads from them. Empty: no S3 endpoint.
    pub s3_roots: Vec<PathBuf>,
    /// Address of the S3 endpoint when `s3_roots` is set; port 0 picks a free one.
    pub s3_addr: SocketAddr,
    /// Without `s3_roots`: an S3 endpoint URL for COPY to read from instead.
    pub s3_endpoint: Option<String>,
    /// Fault switch for tests: every statement stays STARTED at least this long, as a busy
    /// warehouse's would, so callers go round their polling loops.
    pub min_statement_time: std::time::Duration,
    /// Faults armed from the start (tests arm more at `POST /_local/faults`).
    pub faults: Vec<faults::Fault>,
    /// The warehouse's region, and each served bucket's.
    pub regions: s3::Regions,
    /// Secrets Manager secrets a request may sign in with: ARN → database user.
    pub secrets: std::collections::HashMap<String, String>,
    /// One isolation level for every target (None: SERIALIZABLE for a cluster, SNAPSHOT for a
    /// workgroup).
    pub isolation: Option<transactions::Isolation>,
    /// Statements active at once before ActiveStatementsExceededException (AWS: 200).
    pub max_active_statements: usize,
    /// DescribeStatements waiting on one statement at once before
    /// ActiveWaitingRequestsExceededException (AWS: a limit without a number; here 1).
    pub max_waiting_requests: usize,
    /// How long a client token names its statement (AWS: 8 hours).
    pub client_token_retention: std::time::Duration,
    /// The provisioned clusters served, with their management API (none: any identifier is
    /// served, always available).
    pub clusters: Vec<clusters::ClusterSpec>,
    /// The Serverless workgroups served (none: any name is served).
    pub workgroups: Vec<String>,
    /// The databases the warehouse has (none: any name is served).
    pub databases: Vec<String>,
    /// How long a pausing cluster takes to be paused, and a resuming one to be available.
    pub pause_time: std::time::Duration,
    pub resume_time: std::time::Duration,
}

/// The Data API default port of `redshift-local`.
pub const DEFAULT_DATA_API_PORT: u16 = 9320;
/// The S3 default port of `redshift-local`.
pub const DEFAULT_S3_PORT: u16 = 9321;

impl LocalConfig {
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            data_api_addr: SocketAddr::from(([127, 0, 0, 1], DEFAULT_DATA_API_PORT)),
            database_url: database_url.into(),
            connections: 4,
            page_rows: 1000,
            s3_roots: Vec::new(),
            s3_addr: SocketAddr::from(([127, 0, 0, 1], DEFAULT_S3_PORT)),
            s3_endpoint: None,
            min_statement_time: std::time::Duration::ZERO,
            faults: Vec::new(),
            regions: s3::Regions::default(),
            secrets: std::collections::HashMap::new(),
            isolation: None,
            max_active_statements: api::MAX_ACTIVE_STATEMENTS,
            max_waiting_requests: api::MAX_WAITING_REQUESTS,
            client_token_retention: statements::CLIENT_TOKEN_RETENTION,
            clusters: Vec::new(),
            workgroups: Vec::new(),
            databases: Vec::new(),
            pause_time: std::time::Duration::from_secs(3),
            resume_time: std::time::Duration::from_secs(3),
        }
    }
}

/// A running stand-in; dropping it stops the server.
pub struct Running {
    pub data_api_addr: SocketAddr,
    /// The S3 endpoint, when a folder is served.
    pub s3_addr: Option<SocketAddr>,
    /// The fault switches, for a test in this process (others use `POST /_local/faults`).
    pub faults: Arc<faults::Faults>,
    /// What the stand-in was asked, for a test in this process (others `GET /_local/requests`).
    pub requests: Arc<requests::Requests>,
    shutdown: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
    s3: Option<s3::S3Server>,
}

impl Running {
    /// The endpoint URL to give an SDK (`AWS_ENDPOINT_URL_REDSHIFT_DATA`).
    pub fn data_api_url(&self) -> String {
        format!("http://{}", self.data_api_addr)
    }

    /// The S3 endpoint URL to give an SDK (`AWS_ENDPOINT_URL_S3`), when a folder is served.
    pub fn s3_url(&self) -> Option<String> {
        self.s3_addr.map(|addr| format!("http://{addr}"))
    }

    /// HTTP connections the S3 endpoint has accepted, when a folder is served (a test's proof
    /// that COPY read the served buckets without HTTP).
    pub fn s3_connections(&self) -> Option<u64> {
        self.s3
            .as_ref()
            .map(|s3| s3.connections.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Stops accepting requests and waits for the servers to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.server).await;
        if let Some(s3) = self.s3.take() {
            s3.stop().await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The host a request names: its Host header, or (HTTP/2) its URI's authority.
pub fn request_host(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    match headers.get(header::HOST) {
        Some(value) => value.to_str().ok().map(str::to_owned),
        None => uri
            .authority()
            .map(|authority| authority.as_str().to_owned()),
    }
}

/// Whether `host` (a Host header: name or address, then an optional `:port`) names this machine:
/// `localhost`, `127.0.0.1`, `[::1]`, or `bind`, the address the stand-in listens on. Anything
/// else, and no Host at all, is a request a browser could send on behalf of another site after
/// rebinding its host name to 127.0.0.1 (DNS rebinding), and is refused.
pub fn is_local_host(host: Option<&str>, bind: IpAddr) -> bool {
    let Some(host) = host.map(str::trim) else {
        return false;
    };
    let is_port = |port: &str| port.is_empty() || port.parse::<u16>().is_ok();
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inside, "")) => inside,
            Some((inside, after)) if after.strip_prefix(':').is_some_and(is_port) => inside,
            _ => return false,
        }
    } else {
        match host.split_once(':') {
            None => host,
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    name.parse::<IpAddr>().is_ok_and(|ip| {
        ip == IpAddr::V4(Ipv4Addr::LOCALHOST) || ip == IpAddr::V6(Ipv6Addr::LOCALHOST) || ip == bind
    })
}

/// The refusal of a request whose Host is not this machine's.
pub fn not_local_host_message(host: Option<&str>) -> String {
    let named = host.map_or("no Host header".to_owned(), |host| format!("Host {host:?}"));
    format!(
        "{named} is not a loopback name: redshift-local is a developer tool on loopback and \
         answers only requests for localhost, 127.0.0.1 or [::1] (or the address it listens on)"
    )
}

/// Whether a request's Content-Type is `application/json` (any parameters, any case).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// Connects to the database, binds the Data API endpoint and serves it in the background.
pub async fn start(config: LocalConfig) -> Result<Running, String> {
    let started = std::time::Instant::now();
    let pool = Arc::new(Pool::connect(&config.database_url, config.connections).await?);
    let connected = started.elapsed();
    varchar::binary_order(pool.get().await?.client()).await?;
    varchar::install(pool.get().await?.client()).await?;
    let installed = started.elapsed();
    pool.get()
        .await?
        .client()
        .batch_execute(copy::LOAD_ERROR_VIEWS)
        .await
        .map_err(|err| {
            format!(
                "cannot create the load-error views: {}",
                backend::error_text(&err)
            )
        })?;
    tracing::info!(
        connected_ms = connected.as_millis() as u64,
        varchar_ms = (installed - connected).as_millis() as u64,
        views_ms = (started.elapsed() - installed).as_millis() as u64,
        "the warehouse's types and system views are in place"
    );
    let requests = Arc::new(requests::Requests::default());
    // COPY reads the buckets served here in this process, and any other S3 endpoint over HTTP.
    let (s3_server, copy_reads) = if config.s3_roots.is_empty() {
        let endpoint = config.s3_endpoint.clone();
        (
            None,
            endpoint.map(|url| copy::S3Reads::Endpoint(s3::Clients::new(url))),
        )
    } else {
        let buckets = Arc::new(s3::Buckets::new(
            config.s3_roots.clone(),
            config.regions.clone(),
            requests.clone(),
        ));
        let server = s3::serve_in(buckets.clone(), config.s3_addr).await?;
        (Some(server), Some(copy::S3Reads::Served(buckets)))
    };
    let s3_addr = s3_server.as_ref().map(|s| s.addr);
    let clusters = Arc::new(
        clusters::Clusters::new(
            config.clusters.clone(),
            config.pause_time,
            config.resume_time,
        )
        .with_workgroups(config.workgroups.clone())
        .with_databases(config.databases.clone()),
    );
    let faults = Arc::new(faults::Faults::default());
    for fault in config.faults.iter().cloned() {
        faults.arm(fault);
    }
    let runner = Arc::new(Runner {
        store: Arc::new(Store::with_client_token_retention(
            config.client_token_retention,
        )),
        pool,
        s3: copy_reads,
        region: config.regions.default.clone(),
        min_statement_time: config.min_statement_time,
        faults: faults.clone(),
        clusters: clusters.clone(),
        keys: Default::default(),
        maintenance: Default::default(),
    });
    let api = Arc::new(Api {
        runner,
        page_rows: config.page_rows.max(1),
        secrets: config.secrets.clone(),
        isolation: config.isolation,
        max_active: config.max_active_statements,
        max_waiting: config.max_waiting_requests.max(1),
        waiting: std::sync::Mutex::new(std::collections::HashMap::new()),
        requests: requests.clone(),
    });
    let counted = requests.clone();
    let (arm, clear, kept) = (faults.clone(), faults.clone(), faults);
    let bind = config.data_api_addr.ip();
    let router = Router::new()
        .route(
            "/",
            post(move |headers: HeaderMap, body: Bytes| {
                let api = api.clone();
                async move {
                    // The management API shares the endpoint (AWS_ENDPOINT_URL_REDSHIFT).
                    if management::is_management_request(&headers) {
                        if let Some(refused) = management::unsigned(&headers) {
                            return refused;
                        }
                        return management::handle(&api.runner.clusters, &body);
                    }
                    api.handle(&headers, &body).await
                }
            }),
        )
        .route(
            "/_local/clusters",
            axum::routing::get(move || {
                let clusters = clusters.clone();
                async move { axum::Json(clusters.report()) }
            }),
        )
        .route(
            "/_local/requests",
            axum::routing::get(move || {
                let counted = counted.clone();
                async move { axum::Json(counted.report()) }
            }),
        )
        .route(
            "/_local/faults",
            post(move |headers: HeaderMap, body: Bytes| async move {
                // A cross-site form or text/plain POST needs no preflight; JSON does.
                if !is_json(&headers) {
                    return (
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "a fault is armed with Content-Type: application/json".to_owned(),
                    );
                }
                match serde_json::from_slice::<faults::Fault>(&body) {
                    Ok(fault) => {
                        arm.arm(fault);
                        (StatusCode::NO_CONTENT, String::new())
                    }
                    Err(err) => (StatusCode::BAD_REQUEST, format!("not a fault: {err}")),
                }
            })
            .delete(move || async move {
                clear.clear();
                StatusCode::NO_CONTENT
            }),
        )
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| async move {
                let host = request_host(request.headers(), request.uri());
                if is_local_host(host.as_deref(), bind) {
                    next.run(request).await
                } else {
                    tracing::warn!(host = ?host, "refused a request for another host");
                    (
                        StatusCode::FORBIDDEN,
                        not_local_host_message(host.as_deref()),
                    )
                        .into_response()
                }
            },
        ));
    let listener = TcpListener::bind(config.data_api_addr)
        .await
        .map_err(|err| format!("cannot listen on {}: {err}", config.data_api_addr))?;
    let data_api_addr = listener.local_addr().map_err(|err| err.to_string())?;
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let shutdown = async {
            let _ = rx.await;
        };
        // TCP_NODELAY, as for S3: no response waits on the client's delayed ACK.
        let listener = listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::warn!(error = %err, "Data API socket: TCP_NODELAY refused");
            }
        });
        if let Err(err) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %err, "Data API server stopped");
        }
    });
    tracing::info!(%data_api_addr, "local Redshift Data API listening");
    Ok(Running {
        data_api_addr,
        s3_addr,
        faults: kept,
        requests,
        shutdown: Some(tx),
        server,
        s3: s3_server,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machines_names_are_local_hosts() {
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        for host in [
            "localhost",
            "LOCALHOST:9320",
            "localhost.",
            "127.0.0.1",
            "127.0.0.1:9320",
            "[::1]",
            "[::1]:9320",
            "localhost:",
        ] {
            assert!(is_local_host(Some(host), loopback), "{host}");
        }
        for host in [
            "rebound.example",
            "rebound.example:9320",
            "localhost.rebound.example",
            "127.0.0.1.nip.io",
            "127.0.0.2",
            "10.0.0.1:9320",
            "[::2]:9320",
            "::1",
            "localhost:http",
            "[::1]x",
            "",
        ] {
            assert!(!is_local_host(Some(host), loopback), "{host}");
        }
        assert!(!is_local_host(None, loopback));
        let lan = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 5));
        assert!(is_local_host(Some("192.168.1.5:9320"), lan));
        assert!(!is_local_host(Some("192.168.1.6:9320"), lan));
    }
}
