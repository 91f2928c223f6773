//! The default backend: PostgreSQL 17.5 compiled to WASM (pglite-oxide), run inside this process
//! on a free loopback port, its data in a temp dir removed on drop. Nothing to install beyond
//! cargo. It serves one connection at a time, so the stand-in runs statements through one
//! connection, in order ([`EmbeddedPostgres::CONNECTIONS`]).

use pglite_oxide::PgliteServer;
use std::time::{Duration, Instant};

pub struct EmbeddedPostgres {
    server: Option<PgliteServer>,
    url: String,
}

impl EmbeddedPostgres {
    /// The embedded server accepts one connection at a time.
    pub const CONNECTIONS: usize = 1;

    pub fn start() -> Result<Self, String> {
        let started = Instant::now();
        let server = PgliteServer::builder()
            .temporary()
            .start()
            .map_err(|err| format!("cannot start the embedded PostgreSQL: {err:#}"))?;
        let url = server.database_url();
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, %url, "embedded PostgreSQL started");
        Ok(Self {
            server: Some(server),
            url,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for EmbeddedPostgres {
    /// Stops the server, but never waits on it for more than a few seconds: a connection still
    /// open elsewhere must not keep the process from exiting.
    fn drop(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(server.shutdown());
        });
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::warn!(error = %format!("{err:#}"), "embedded PostgreSQL shutdown")
            }
            Err(_) => tracing::warn!("embedded PostgreSQL still stopping after 5 s; leaving it"),
        }
    }
}
