//! A local stand-in for Amazon Redshift's Data API, backed by a real PostgreSQL, so the pipeline's
//! functions, the AWS SDKs and the AWS CLI can run against it unchanged.

pub mod api;
pub mod backend;
pub mod dialect;
pub mod statements;

use api::Api;
use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use backend::Pool;
use statements::Store;
use std::net::SocketAddr;
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
}

/// The Data API default port of `redshift-local`.
pub const DEFAULT_DATA_API_PORT: u16 = 9320;

impl LocalConfig {
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            data_api_addr: SocketAddr::from(([127, 0, 0, 1], DEFAULT_DATA_API_PORT)),
            database_url: database_url.into(),
            connections: 4,
            page_rows: 1000,
        }
    }
}

/// A running stand-in; dropping it stops the server.
pub struct Running {
    pub data_api_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
}

impl Running {
    /// The endpoint URL to give an SDK (`AWS_ENDPOINT_URL_REDSHIFT_DATA`).
    pub fn data_api_url(&self) -> String {
        format!("http://{}", self.data_api_addr)
    }

    /// Stops accepting requests and waits for the server task to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.server).await;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Connects to the database, binds the Data API endpoint and serves it in the background.
pub async fn start(config: LocalConfig) -> Result<Running, String> {
    let pool = Arc::new(Pool::connect(&config.database_url, config.connections).await?);
    let api = Arc::new(Api {
        store: Arc::new(Store::default()),
        pool,
        page_rows: config.page_rows.max(1),
    });
    let router = Router::new().route(
        "/",
        post(move |headers: HeaderMap, body: Bytes| {
            let api = api.clone();
            async move { api.handle(&headers, &body).await }
        }),
    );
    let listener = TcpListener::bind(config.data_api_addr)
        .await
        .map_err(|err| format!("cannot listen on {}: {err}", config.data_api_addr))?;
    let data_api_addr = listener.local_addr().map_err(|err| err.to_string())?;
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let shutdown = async {
            let _ = rx.await;
        };
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
        shutdown: Some(tx),
        server,
    })
}
