//! The S3 endpoint's operations: s3s-fs's own over the bucket folders ([`super::buckets`]), but
//! for ListObjectsV2 without a delimiter, which lists from a snapshot ([`Listings`]) with each
//! object's ETag (s3s-fs leaves it out of listings), and GetObject, which finds its object as
//! COPY's reads do ([`Buckets`]) before s3s-fs serves it, so that both answer as S3 does.

use super::buckets::{Buckets, Listed, inside_bucket, md5_hex, no_such_bucket, walk};
use s3s::dto::{
    CreateBucketInput, CreateBucketOutput, DeleteObjectInput, DeleteObjectOutput,
    DeleteObjectsInput, DeleteObjectsOutput, ETag, GetObjectInput, GetObjectOutput,
    HeadBucketInput, HeadBucketOutput, HeadObjectInput, HeadObjectOutput, ListBucketsInput,
    ListBucketsOutput, ListObjectsInput, ListObjectsOutput, ListObjectsV2Input,
    ListObjectsV2Output, Object, PutObjectInput, PutObjectOutput,
};
use s3s::{S3, S3Request, S3Response, S3Result};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// s3s-fs over each root of the buckets.
pub(super) struct LocalS3 {
    buckets: Arc<Buckets>,
    /// One per root, in the roots' order.
    fs: Vec<s3s_fs::FileSystem>,
    listings: Arc<Mutex<Listings>>,
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

impl LocalS3 {
    pub(super) fn new(buckets: Arc<Buckets>) -> Result<Self, String> {
        let fs = buckets
            .roots()
            .iter()
            .map(|root| {
                s3s_fs::FileSystem::new(root)
                    .map_err(|err| format!("cannot serve {} as S3: {err:?}", root.display()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if fs.is_empty() {
            return Err("no folder to serve as S3".into());
        }
        Ok(Self {
            buckets,
            fs,
            listings: Arc::default(),
        })
    }

    /// The root holding `bucket` and its s3s-fs (the first root when none does, which answers
    /// NoSuchBucket).
    fn route(&self, bucket: &str) -> (&Path, &s3s_fs::FileSystem) {
        let index = self.buckets.root_of(bucket).unwrap_or(0);
        (&self.buckets.roots()[index], &self.fs[index])
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
            return Err(no_such_bucket());
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
        self.fs[0].list_buckets(req).await
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
        // S3's answers where s3s-fs gives others: NoSuchBucket, not NoSuchKey; NoSuchKey for a
        // key ending in `/` (s3s-fs drops the slash and serves the file) or naming a folder
        // (s3s-fs fails reading it, 500); InternalError for a file it may not read (s3s-fs:
        // NoSuchKey). COPY's reads ask the same function.
        self.buckets
            .object_file(&req.input.bucket, &req.input.key)?;
        let (_, fs) = self.route(&req.input.bucket);
        fs.get_object(req).await
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
