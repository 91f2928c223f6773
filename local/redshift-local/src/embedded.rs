//! The default backend: PostgreSQL 17.5 compiled to WASM (pglite-oxide), run inside this process
//! on a Unix socket in a private temp dir, its data in a temp dir, both removed on drop. Nothing to
//! install beyond cargo. It serves one connection at a time, so the stand-in runs statements
//! through one connection, in order ([`EmbeddedPostgres::CONNECTIONS`]).
//!
//! A Unix socket, not loopback TCP: pglite-oxide's TCP server leaves Nagle's algorithm on, so each
//! statement's answer waited for the client's delayed ACK, about 90 ms a statement (measured with
//! `./dev bench`'s floor: the load-dimensions SQL took 1.10 s over TCP, 0.10 s over the socket).

use pglite_oxide::PgliteServer;
use std::time::{Duration, Instant};

pub struct EmbeddedPostgres {
    server: Option<Box<PgliteServer>>,
    url: String,
    socket_dir: std::path::PathBuf,
}

impl EmbeddedPostgres {
    /// The embedded server accepts one connection at a time.
    pub const CONNECTIONS: usize = 1;

    pub fn start() -> Result<Self, String> {
        static STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let started = Instant::now();
        let socket_dir = std::env::temp_dir().join(format!(
            "redshift-local-pglite-{}-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos())
        ));
        std::fs::create_dir_all(&socket_dir)
            .and_then(|()| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&socket_dir, std::fs::Permissions::from_mode(0o700))
            })
            .map_err(|err| format!("cannot make {}: {err}", socket_dir.display()))?;
        let server = PgliteServer::builder()
            .temporary()
            .unix(socket_dir.join(".s.PGSQL.5432"))
            .start()
            .map_err(|err| format!("cannot start the embedded PostgreSQL: {err:#}"))?;
        let url = server.database_url();
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, %url, "embedded PostgreSQL started");
        Ok(Self {
            server: Some(Box::new(server)),
            url,
            socket_dir,
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
        let socket_dir = std::mem::take(&mut self.socket_dir);
        let _removed = RemoveOnDrop(socket_dir);
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

/// Removes the socket's folder once the server has stopped (or been left stopping).
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
