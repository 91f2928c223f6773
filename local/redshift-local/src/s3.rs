//! S3 on this machine: a local folder served as buckets (one sub-folder per bucket) through the
//! real S3 API by s3s-fs, so COPY and anything that lists objects use `aws-sdk-s3` unchanged.
//!
//! s3s checks SigV4 signatures against the secret key its auth provider names, so a signature
//! made with an unknown secret cannot be accepted. The stand-in accepts **any access key ID with
//! the secret access key [`SECRET_ACCESS_KEY`]** (`local`); unsigned requests are accepted too.

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::S3Result;
use s3s::auth::{S3Auth, SecretKey};
use s3s::service::S3ServiceBuilder;
use std::net::SocketAddr;
use std::path::Path;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The secret access key the S3 stand-in signs with, whatever the access key ID.
pub const SECRET_ACCESS_KEY: &str = "local";

struct AnyAccessKey;

#[async_trait::async_trait]
impl S3Auth for AnyAccessKey {
    async fn get_secret_key(&self, _access_key: &str) -> S3Result<SecretKey> {
        Ok(SecretKey::from(SECRET_ACCESS_KEY))
    }
}

/// A running S3 endpoint.
pub struct S3Server {
    pub addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl S3Server {
    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}

/// An S3 client for `endpoint`: path-style, signing with the stand-in's secret.
pub fn client(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "redshift-local",
            SECRET_ACCESS_KEY,
            None,
            None,
            "redshift-local",
        ))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Serves `root` on `addr` (port 0 picks a free one).
pub async fn serve(root: &Path, addr: SocketAddr) -> Result<S3Server, String> {
    let fs = s3s_fs::FileSystem::new(root)
        .map_err(|err| format!("cannot serve {} as S3: {err:?}", root.display()))?;
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(AnyAccessKey);
    let service = builder.build();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|err| format!("cannot listen on {addr}: {err}"))?;
    let addr = listener.local_addr().map_err(|err| err.to_string())?;
    let (shutdown, mut stop) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let http = ConnBuilder::new(TokioExecutor::new());
        loop {
            let socket = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((socket, _)) => socket,
                    Err(err) => {
                        tracing::warn!(error = %err, "S3 accept failed");
                        continue;
                    }
                },
                _ = &mut stop => break,
            };
            let connection = http
                .serve_connection(TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(async move {
                if let Err(err) = connection.await {
                    tracing::debug!(error = %err, "S3 connection ended");
                }
            });
        }
    });
    tracing::info!(%addr, root = %root.display(), "local S3 listening");
    Ok(S3Server {
        addr,
        shutdown,
        task,
    })
}
