//! S3 on this machine: local folders served as buckets (one sub-folder per bucket) through the
//! real S3 API by s3s-fs, so the functions and anything that lists objects use `aws-sdk-s3`
//! unchanged. COPY, which on AWS is Redshift's own reader of S3, reads the same folders in this
//! process, each read one counted request that finds or refuses its object as the endpoint does
//! ([`Buckets`]). Its parts, each in its file:
//! - `buckets.rs`: the folders as buckets (which root holds a bucket, keys that stay inside it,
//!   listings), and COPY's reads of them;
//! - `access.rs`: what S3 refuses before it looks at an object (host, signature, owner, region);
//! - `service.rs`: the endpoint's operations, s3s-fs's with S3's answers where s3s-fs differs.
//!
//! s3s-fs leaves the ETag out of object listings; real S3 lists every object with it, and the
//! pipeline plans its loads on listed ETags, so the endpoint fills it in (the MD5 of the object,
//! S3's ETag for a single-part upload, as s3s-fs gives on GET and HEAD). A bucket folder may be a
//! symbolic link. Several roots can be served at once (a read-only data set beside a writable
//! folder for a scratch bucket): a request goes to the first root that has its bucket.
//!
//! s3s checks SigV4 signatures against the secret key its auth provider names, so a signature
//! made with an unknown secret cannot be accepted. The stand-in accepts **any access key ID with
//! the secret access key [`SECRET_ACCESS_KEY`]** (`local`); unsigned requests are refused.
//!
//! Every bucket lives in a region ([`Regions`]: `--bucket-region BUCKET=REGION`, else the
//! stand-in's `--region`). A request signed for another region is answered as S3 answers a
//! request sent to the wrong regional endpoint: `301 PermanentRedirect` ("The bucket you are
//! attempting to access must be addressed using the specified endpoint. Please send all future
//! requests to this endpoint."), with the bucket's region in `x-amz-bucket-region`. The Rust SDK
//! does not follow it, so a client built for the wrong region fails here as on AWS.
//!
//! Every key names a path inside its bucket's folder: a key, prefix, StartAfter or marker with a
//! `..` segment, or one that starts at `/`, is refused with 400 InvalidArgument, and a bucket name
//! S3 would not accept (InvalidBucketName) never reaches the file system; S3 keys are names, not
//! paths, and on S3 none of them reaches another bucket or the machine. A symbolic link inside a
//! served folder is followed, as the bucket folders themselves may be links: what the folders
//! link to is the developer's choice, not a request's.
//! And the endpoint is a developer tool on loopback: a request whose Host header names anything
//! but this machine ([`crate::is_local_host`]) is refused with 403 AccessDenied, so a web page
//! whose host name was rebound to 127.0.0.1 cannot use it.

mod access;
mod buckets;
mod service;

pub use buckets::Buckets;

use crate::requests::Requests;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::service::S3ServiceBuilder;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The secret access key the S3 stand-in signs with, whatever the access key ID.
pub const SECRET_ACCESS_KEY: &str = "local";

/// The access key ID COPY's reads sign with, which tells them apart in the request counts.
pub const COPY_ACCESS_KEY: &str = "redshift-local";

/// The region of the stand-in when none is given, and of every bucket not placed elsewhere.
pub const DEFAULT_REGION: &str = "us-west-2";

/// Where each bucket lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regions {
    /// The region of every bucket not named in `buckets`.
    pub default: String,
    /// Buckets placed in another region, by name.
    pub buckets: HashMap<String, String>,
}

impl Default for Regions {
    fn default() -> Self {
        Self {
            default: DEFAULT_REGION.to_owned(),
            buckets: HashMap::new(),
        }
    }
}

impl Regions {
    pub fn of(&self, bucket: &str) -> &str {
        self.buckets.get(bucket).unwrap_or(&self.default)
    }
}

/// The account that owns every bucket the stand-in serves (the account of the local roles'
/// ARNs): a request whose `ExpectedBucketOwner` names another is refused.
pub const LOCAL_ACCOUNT: &str = "123456789012";

/// A running S3 endpoint.
pub struct S3Server {
    pub addr: SocketAddr,
    /// HTTP connections accepted so far.
    pub connections: Arc<std::sync::atomic::AtomicU64>,
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

/// An S3 client for `endpoint`: path-style, signing with the stand-in's secret for the default
/// region.
pub fn client(endpoint: &str) -> aws_sdk_s3::Client {
    client_in(endpoint, DEFAULT_REGION)
}

/// An S3 client for `endpoint` that signs for `region`.
pub fn client_in(endpoint: &str, region: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            COPY_ACCESS_KEY,
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

/// COPY's S3 clients for an endpoint elsewhere, one per region it reads from, made on first use.
pub struct Clients {
    endpoint: String,
    by_region: Mutex<HashMap<String, aws_sdk_s3::Client>>,
}

impl Clients {
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            by_region: Mutex::default(),
        }
    }

    pub fn for_region(&self, region: &str) -> aws_sdk_s3::Client {
        self.by_region
            .lock()
            .expect("S3 clients")
            .entry(region.to_owned())
            .or_insert_with(|| {
                // One attempt per read, as COPY's reads of the served buckets make: a retried
                // 500 would count as three requests on one path and one on the other.
                let config = client_in(&self.endpoint, region)
                    .config()
                    .to_builder()
                    .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
                    .build();
                aws_sdk_s3::Client::from_conf(config)
            })
            .clone()
    }
}

/// Serves `roots` on `addr` (port 0 picks a free one), every bucket in the default region.
pub async fn serve(roots: &[PathBuf], addr: SocketAddr) -> Result<S3Server, String> {
    let buckets = Buckets::new(
        roots.to_vec(),
        Regions::default(),
        Arc::<Requests>::default(),
    );
    serve_in(Arc::new(buckets), addr).await
}

/// Serves `buckets` on `addr`, each bucket in its region, counting every request.
pub async fn serve_in(buckets: Arc<Buckets>, addr: SocketAddr) -> Result<S3Server, String> {
    let shown = buckets
        .roots()
        .iter()
        .map(|root| root.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let access =
        access::BucketRegions(buckets.regions.clone(), buckets.requests.clone(), addr.ip());
    let mut builder = S3ServiceBuilder::new(service::LocalS3::new(buckets)?);
    builder.set_auth(access::AnyAccessKey);
    builder.set_access(access);
    let service = builder.build();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|err| format!("cannot listen on {addr}: {err}"))?;
    let addr = listener.local_addr().map_err(|err| err.to_string())?;
    let (shutdown, mut stop) = oneshot::channel::<()>();
    let connections = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let accepted_count = connections.clone();
    let task = tokio::spawn(async move {
        let http = ConnBuilder::new(TokioExecutor::new());
        loop {
            let socket = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((socket, _)) => {
                        // A response's head and body are separate writes: with Nagle's algorithm
                        // the body waits for the client's delayed ACK (40 ms on Linux).
                        if let Err(err) = socket.set_nodelay(true) {
                            tracing::warn!(error = %err, "S3 socket: TCP_NODELAY refused");
                        }
                        socket
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "S3 accept failed");
                        continue;
                    }
                },
                _ = &mut stop => break,
            };
            accepted_count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
    tracing::info!(%addr, roots = %shown, "local S3 listening");
    Ok(S3Server {
        addr,
        connections,
        shutdown,
        task,
    })
}
