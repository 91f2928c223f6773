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
//! the secret access key [`SECRET_ACCESS_KEY`]** (`local`); unsigned requests are refused.
//!
//! Every bucket lives in a region ([`Regions`]: `--bucket-region BUCKET=REGION`, else the
//! stand-in's `--region`). A request signed for another region is answered as S3 answers a
//! request sent to the wrong regional endpoint: `301 PermanentRedirect` ("The bucket you are
//! attempting to access must be addressed using the specified endpoint. Please send all future
//! requests to this endpoint."), with the bucket's region in `x-amz-bucket-region`. The Rust SDK
//! does not follow it, so a client built for the wrong region fails here as on AWS.
//!
//! Every path stays inside its bucket's folder: a key, prefix, StartAfter or marker with a `..`
//! segment, or one that starts at `/`, is refused with 400 InvalidArgument ([`inside_bucket`]);
//! S3 keys are names, not paths, and on S3 none of them reaches another bucket or the machine.
//! And the endpoint is a developer tool on loopback: a request whose Host header names anything
//! but this machine ([`crate::is_local_host`]) is refused with 403 AccessDenied, so a web page
//! whose host name was rebound to 127.0.0.1 cannot use it.

use crate::requests::Requests;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::{
    CreateBucketInput, CreateBucketOutput, DeleteObjectInput, DeleteObjectOutput,
    DeleteObjectsInput, DeleteObjectsOutput, ETag, GetObjectInput, GetObjectOutput,
    HeadBucketInput, HeadBucketOutput, HeadObjectInput, HeadObjectOutput, ListBucketsInput,
    ListBucketsOutput, ListObjectsInput, ListObjectsOutput, ListObjectsV2Input,
    ListObjectsV2Output, Object, PutObjectInput, PutObjectOutput,
};
use s3s::service::S3ServiceBuilder;
use s3s::{S3, S3Request, S3Response, S3Result};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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

/// Refuses what S3 refuses before it looks at the object: an unsigned request, and a request
/// signed for another region than its bucket's (301 PermanentRedirect); and, first, a request
/// whose Host is not this machine's (403). Every request is counted here, refused or not, as S3
/// bills them.
struct BucketRegions(Regions, Arc<Requests>, std::net::IpAddr);

#[async_trait::async_trait]
impl S3Access for BucketRegions {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        self.1.s3(
            cx.s3_op().name(),
            cx.credentials().map(|c| c.access_key.as_str()),
        );
        let host = crate::request_host(cx.headers(), cx.uri());
        if !crate::is_local_host(host.as_deref(), self.2) {
            return Err(s3s::s3_error!(
                AccessDenied,
                "{}",
                crate::not_local_host_message(host.as_deref())
            ));
        }
        if cx.credentials().is_none() {
            return Err(s3s::s3_error!(AccessDenied, "Signature is required"));
        }
        let bucket = match cx.s3_path() {
            s3s::path::S3Path::Bucket { bucket } | s3s::path::S3Path::Object { bucket, .. } => {
                bucket.to_string()
            }
            s3s::path::S3Path::Root => return Ok(()),
        };
        let signed_for = cx
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::identity::signing_region)
            .map(str::to_owned);
        // "If the bucket is owned by a different account, the request fails with the HTTP
        // status code 403 Forbidden (access denied)" (the ExpectedBucketOwner parameter, on
        // every operation that takes it). Every bucket served here is the local account's.
        if let Some(expected) = cx
            .headers()
            .get("x-amz-expected-bucket-owner")
            .and_then(|v| v.to_str().ok())
            && expected != LOCAL_ACCOUNT
        {
            return Err(s3s::s3_error!(
                AccessDenied,
                "Access Denied: bucket {bucket} is owned by {LOCAL_ACCOUNT}, not {expected}"
            ));
        }
        let home = self.0.of(&bucket);
        match signed_for {
            Some(region) if region != home => {
                let mut error = s3s::s3_error!(
                    PermanentRedirect,
                    "The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint."
                );
                let mut headers = axum::http::HeaderMap::new();
                if let Ok(value) = axum::http::HeaderValue::from_str(home) {
                    headers.insert("x-amz-bucket-region", value);
                }
                error.set_headers(headers);
                Err(error)
            }
            _ => Ok(()),
        }
    }
}

struct AnyAccessKey;

#[async_trait::async_trait]
impl S3Auth for AnyAccessKey {
    async fn get_secret_key(&self, _access_key: &str) -> S3Result<SecretKey> {
        Ok(SecretKey::from(SECRET_ACCESS_KEY))
    }
}

/// s3s-fs with ETags in object listings, over one or more roots: every operation the stand-in
/// serves is s3s-fs's own, but for ListObjectsV2 without a delimiter (below).
struct LocalS3 {
    roots: Vec<(PathBuf, s3s_fs::FileSystem)>,
    listings: Arc<Mutex<Listings>>,
}

/// One object as a listing found it.
struct Listed {
    key: String,
    size: i64,
    modified: std::time::SystemTime,
}

/// The sorted listings of recent ListObjectsV2 calls, by id, so that the later pages of one
/// paginated listing read the snapshot its first page took. s3s-fs walks the whole bucket folder
/// for every page, which makes listing N objects cost N²/1000 file reads: 15 pages of the real
/// song prefix re-read all 14,896 files 15 times, and a prefix 16 times as large 256 times as
/// many. A continuation token is `<id>:<last key>`; a token whose snapshot was dropped lists again
/// and resumes after its key. The one difference from S3, which reads every page live: an object
/// that lands while a paginated listing is under way is in the next listing, not in this one.
#[derive(Default)]
struct Listings {
    next_id: u64,
    recent: std::collections::VecDeque<(u64, Arc<Vec<Listed>>)>,
}

impl Listings {
    const KEPT: usize = 16;

    fn keep(&mut self, listing: Arc<Vec<Listed>>) -> u64 {
        self.next_id += 1;
        if self.recent.len() == Self::KEPT {
            self.recent.pop_front();
        }
        self.recent.push_back((self.next_id, listing));
        self.next_id
    }

    fn get(&self, id: u64) -> Option<Arc<Vec<Listed>>> {
        self.recent
            .iter()
            .find(|(kept, _)| *kept == id)
            .map(|(_, listing)| listing.clone())
    }
}

/// Refuses a key, prefix, StartAfter or marker (`what`) that would leave its bucket's folder: one
/// with a `..` segment, or one that starts at `/` (joined onto a folder, an absolute path replaces
/// it). 400 InvalidArgument, naming it.
fn inside_bucket(what: &str, value: Option<&str>) -> S3Result<()> {
    let Some(value) = value else {
        return Ok(());
    };
    let escapes = value.starts_with('/')
        || value.starts_with('\\')
        || value.split(['/', '\\']).any(|segment| segment == "..");
    if escapes {
        return Err(s3s::s3_error!(
            InvalidArgument,
            "{what} {value:?} leaves its bucket: the local S3 refuses a '..' segment or a leading \
             '/', which would name a file outside the bucket's folder"
        ));
    }
    Ok(())
}

/// Every file under `bucket_dir` whose key starts with `prefix`, sorted by key. Only the folder
/// the prefix names is walked (`song_data/A/` walks that folder, not the bucket).
fn walk(bucket_dir: &Path, prefix: &str) -> std::io::Result<Vec<Listed>> {
    if inside_bucket("prefix", Some(prefix)).is_err() {
        return Ok(Vec::new());
    }
    let folder = &prefix[..prefix.rfind('/').map_or(0, |slash| slash + 1)];
    let mut found = Vec::new();
    let mut pending = vec![bucket_dir.join(folder)];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err),
        };
        for entry in entries {
            let path = entry?.path();
            let metadata = std::fs::metadata(&path)?;
            if metadata.is_dir() {
                pending.push(path);
                continue;
            }
            let Some(key) = path
                .strip_prefix(bucket_dir)
                .ok()
                .and_then(|relative| relative.to_str())
                .map(|relative| relative.replace(std::path::MAIN_SEPARATOR, "/"))
            else {
                continue;
            };
            if key.starts_with(prefix) {
                found.push(Listed {
                    key,
                    size: metadata.len() as i64,
                    modified: metadata.modified()?,
                });
            }
        }
    }
    found.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(found)
}

impl LocalS3 {
    /// The root holding `bucket` (the first root when none does, which answers NoSuchBucket).
    fn route(&self, bucket: &str) -> &(PathBuf, s3s_fs::FileSystem) {
        self.roots
            .iter()
            .find(|(root, _)| root.join(bucket).is_dir())
            .unwrap_or(&self.roots[0])
    }

    /// ListObjectsV2 without a delimiter, as S3 answers it (keys in order, at most MaxKeys — 1000
    /// by default and at most — per page, after StartAfter or the continuation token), each
    /// page read from the snapshot the listing's first page took (see [`Listings`]).
    async fn list_from_snapshot(
        &self,
        input: ListObjectsV2Input,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let (root, _) = self.route(&input.bucket);
        let bucket_dir = root.join(&input.bucket);
        if !bucket_dir.is_dir() {
            return Err(s3s::s3_error!(NoSuchBucket));
        }
        let prefix = input.prefix.clone().unwrap_or_default();
        let resumed = match input.continuation_token.as_deref() {
            None => None,
            Some(token) => {
                let (id, after) = token
                    .split_once(':')
                    .and_then(|(id, after)| Some((id.parse::<u64>().ok()?, after.to_owned())))
                    .ok_or_else(|| {
                        s3s::s3_error!(
                            InvalidArgument,
                            "The continuation token provided is incorrect"
                        )
                    })?;
                let kept = self.listings.lock().expect("listings").get(id);
                Some((id, kept, after))
            }
        };
        let (id, listing, after) = match resumed {
            Some((id, Some(listing), after)) => (id, listing, Some(after)),
            kept_or_not => {
                let walked = {
                    let (dir, prefix) = (bucket_dir.clone(), prefix.clone());
                    tokio::task::spawn_blocking(move || walk(&dir, &prefix))
                        .await
                        .map_err(|err| s3s::s3_error!(InternalError, "listing: {err}"))?
                        .map_err(|err| s3s::s3_error!(InternalError, "listing: {err}"))?
                };
                let listing = Arc::new(walked);
                let id = self
                    .listings
                    .lock()
                    .expect("listings")
                    .keep(listing.clone());
                (id, listing, kept_or_not.map(|(_, _, after)| after))
            }
        };
        let after = match (after, input.start_after.clone()) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let start = after.map_or(0, |after| {
            listing.partition_point(|object| object.key.as_str() <= after.as_str())
        });
        let max_keys = input.max_keys.unwrap_or(1000).clamp(0, 1000);
        let end = (start + max_keys as usize).min(listing.len());
        let page: Vec<(String, i64, std::time::SystemTime)> = listing[start..end]
            .iter()
            .map(|object| (object.key.clone(), object.size, object.modified))
            .collect();
        let truncated = end < listing.len();
        let next = (truncated && end > start).then(|| format!("{id}:{}", listing[end - 1].key));
        let contents = tokio::task::spawn_blocking(move || {
            page.into_iter()
                .map(|(key, size, modified)| Object {
                    e_tag: md5_hex(&bucket_dir.join(&key)).ok().map(ETag::Strong),
                    key: Some(key),
                    size: Some(size),
                    last_modified: Some(modified.into()),
                    ..Default::default()
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|err| s3s::s3_error!(InternalError, "listing: {err}"))?;
        Ok(S3Response::new(ListObjectsV2Output {
            key_count: Some(contents.len() as i32),
            max_keys: Some(max_keys),
            is_truncated: Some(truncated),
            contents: (!contents.is_empty()).then_some(contents),
            continuation_token: input.continuation_token,
            next_continuation_token: next,
            encoding_type: input.encoding_type,
            name: Some(input.bucket),
            prefix: input.prefix,
            start_after: input.start_after,
            ..Default::default()
        }))
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
        inside_bucket("prefix", req.input.prefix.as_deref())?;
        inside_bucket("start-after", req.input.start_after.as_deref())?;
        if req.input.delimiter.is_none() {
            return self.list_from_snapshot(req.input).await;
        }
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
        inside_bucket("prefix", req.input.prefix.as_deref())?;
        inside_bucket("marker", req.input.marker.as_deref())?;
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
        inside_bucket("key", Some(&req.input.key))?;
        self.route(&req.input.bucket).1.get_object(req).await
    }
    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        inside_bucket("key", Some(&req.input.key))?;
        self.route(&req.input.bucket).1.head_object(req).await
    }
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        inside_bucket("key", Some(&req.input.key))?;
        self.route(&req.input.bucket).1.put_object(req).await
    }
    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        inside_bucket("key", Some(&req.input.key))?;
        self.route(&req.input.bucket).1.delete_object(req).await
    }
    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        for object in &req.input.delete.objects {
            inside_bucket("key", Some(&object.key))?;
        }
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

/// COPY's S3 clients, one per region it reads from, made on first use.
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
            .or_insert_with(|| client_in(&self.endpoint, region))
            .clone()
    }
}

/// Serves `roots` on `addr` (port 0 picks a free one), every bucket in the default region.
pub async fn serve(roots: &[PathBuf], addr: SocketAddr) -> Result<S3Server, String> {
    serve_in(roots, addr, Regions::default(), Arc::default()).await
}

/// Serves `roots` on `addr`, each bucket in the region `regions` gives it, counting every request
/// in `requests`.
pub async fn serve_in(
    roots: &[PathBuf],
    addr: SocketAddr,
    regions: Regions,
    requests: Arc<Requests>,
) -> Result<S3Server, String> {
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
    let mut builder = S3ServiceBuilder::new(LocalS3 {
        roots,
        listings: Arc::default(),
    });
    builder.set_auth(AnyAccessKey);
    builder.set_access(BucketRegions(regions, requests, addr.ip()));
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
