//! S3 on this machine: a local folder served as buckets (one sub-folder per bucket) through the
//! real S3 API by s3s-fs, so COPY and anything that lists objects use `aws-sdk-s3` unchanged.
//!
//! s3s-fs leaves the ETag out of object listings; real S3 lists every object with it, and the
//! pipeline plans its loads on listed ETags, so [`LocalS3`] fills it in (the MD5 of the object,
//! S3's ETag for a single-part upload, as s3s-fs gives on GET and HEAD). A bucket folder may be a
//! symbolic link. Several roots can be served at once (a read-only data set beside a writable
//! folder for a scratch bucket): a request goes to the first root that has its bucket.
//!
//! s3s checks SigV4 signatures against the secret key its auth provider names, so a signature
//! made with an unknown secret cannot be accepted. The stand-in accepts **any access key ID with
//! the secret access key [`SECRET_ACCESS_KEY`]** (`local`); unsigned requests are accepted too.

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::{
    CreateBucketInput, CreateBucketOutput, DeleteObjectInput, DeleteObjectOutput,
    DeleteObjectsInput, DeleteObjectsOutput, ETag, GetObjectInput, GetObjectOutput,
    HeadBucketInput, HeadBucketOutput, HeadObjectInput, HeadObjectOutput, ListBucketsInput,
    ListBucketsOutput, ListObjectsInput, ListObjectsOutput, ListObjectsV2Input,
    ListObjectsV2Output, PutObjectInput, PutObjectOutput,
};
use s3s::service::S3ServiceBuilder;
use s3s::{S3, S3Request, S3Response, S3Result};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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

/// s3s-fs with ETags in object listings, over one or more roots: every operation the stand-in
/// serves is s3s-fs's own.
struct LocalS3 {
    roots: Vec<(PathBuf, s3s_fs::FileSystem)>,
}

impl LocalS3 {
    /// The root holding `bucket` (the first root when none does, which answers NoSuchBucket).
    fn route(&self, bucket: &str) -> &(PathBuf, s3s_fs::FileSystem) {
        self.roots
            .iter()
            .find(|(root, _)| root.join(bucket).is_dir())
            .unwrap_or(&self.roots[0])
    }
}

/// The MD5 of a file, hex, as s3s-fs computes an ETag.
fn md5_hex(path: &Path) -> std::io::Result<String> {
    use md5::Digest;
    let bytes = std::fs::read(path)?;
    Ok(md5::Md5::digest(&bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

#[async_trait::async_trait]
impl S3 for LocalS3 {
    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let bucket = req.input.bucket.clone();
        let (root, fs) = self.route(&bucket);
        let mut response = fs.list_objects_v2(req).await?;
        let root = root.join(&bucket);
        let keys: Vec<Option<String>> = response
            .output
            .contents
            .iter()
            .flatten()
            .map(|object| object.key.clone())
            .collect();
        let etags = tokio::task::spawn_blocking(move || {
            keys.into_iter()
                .map(|key| key.and_then(|key| md5_hex(&root.join(key)).ok()))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|err| s3s::s3_error!(InternalError, "listing {bucket}: {err}"))?;
        for (object, etag) in response.output.contents.iter_mut().flatten().zip(etags) {
            object.e_tag = etag.map(ETag::Strong);
        }
        Ok(response)
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        self.route(&req.input.bucket).1.list_objects(req).await
    }
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        self.roots[0].1.list_buckets(req).await
    }
    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.route(&req.input.bucket).1.head_bucket(req).await
    }
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.route(&req.input.bucket).1.create_bucket(req).await
    }
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        self.route(&req.input.bucket).1.get_object(req).await
    }
    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.route(&req.input.bucket).1.head_object(req).await
    }
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.route(&req.input.bucket).1.put_object(req).await
    }
    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.route(&req.input.bucket).1.delete_object(req).await
    }
    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.route(&req.input.bucket).1.delete_objects(req).await
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

/// Serves `roots` on `addr` (port 0 picks a free one).
pub async fn serve(roots: &[PathBuf], addr: SocketAddr) -> Result<S3Server, String> {
    let roots = roots
        .iter()
        .map(|root| {
            s3s_fs::FileSystem::new(root)
                .map(|fs| (root.clone(), fs))
                .map_err(|err| format!("cannot serve {} as S3: {err:?}", root.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if roots.is_empty() {
        return Err("no folder to serve as S3".into());
    }
    let shown = roots
        .iter()
        .map(|(root, _)| root.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut builder = S3ServiceBuilder::new(LocalS3 { roots });
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
    tracing::info!(%addr, roots = %shown, "local S3 listening");
    Ok(S3Server {
        addr,
        shutdown,
        task,
    })
}
