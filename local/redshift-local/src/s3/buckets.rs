//! The buckets as folders: a bucket is the sub-folder of that name in the first root that has
//! it; a key names a file inside it and never leaves it ([`inside_bucket`]); a listing walks the
//! folder its prefix names ([`walk`]).
//!
//! The S3 endpoint ([`super::service`]) serves these folders over HTTP to every caller. COPY,
//! which on AWS is Redshift's own reader of S3, reads them here, in this process
//! ([`Buckets::read_all`], [`Buckets::list`]): 14,896 signed HTTP round trips through two SDK
//! stacks were nearly all of the real data set's local run. Each of COPY's requests is still one
//! request to S3, made and refused as S3 makes and refuses it, in the endpoint's order:
//! - a bucket name S3 does not accept: 400 InvalidBucketName; a key over 1,024 bytes: 400
//!   KeyTooLongError (s3s parses these before anything else, and does not count them);
//! - then the request is counted, GET per object and LIST per page of 1,000 keys, as COPY's;
//! - a region other than the bucket's: 301 PermanentRedirect ([`super::access::region_refusal`]);
//! - a key or prefix leaving its bucket: 400 InvalidArgument; a bucket no root has: 404
//!   NoSuchBucket; a key no file is: 404 NoSuchKey ([`Buckets::object_file`], which the
//!   endpoint's GetObject asks too); a file this process may not read: 500 InternalError.
//!
//! What the endpoint checks and these reads do not: the Host header, the signature and
//! ExpectedBucketOwner. COPY's requests have no Host, are always signed with the stand-in's key
//! and name no owner, so none of those checks could refuse one. COPY reads an endpoint elsewhere
//! with one attempt per request, as here (no SDK retry of a 500). `tests/s3_reads.rs` runs its
//! COPYs both ways, in this process and through the endpoint, and holds them to the same rows,
//! errors and request counts.

use super::access::region_refusal;
use super::{COPY_ACCESS_KEY, Regions};
use crate::requests::Requests;
use s3s::S3Result;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The most keys one ListObjectsV2 page holds (S3's MaxKeys default and maximum).
const KEYS_PER_PAGE: usize = 1000;

/// The folders served as buckets, where each bucket lives, and the requests made of them.
#[derive(Debug)]
pub struct Buckets {
    roots: Vec<PathBuf>,
    pub(super) regions: Regions,
    pub(super) requests: Arc<Requests>,
}

/// One object as a listing found it.
pub(super) struct Listed {
    pub(super) key: String,
    pub(super) size: i64,
    pub(super) modified: std::time::SystemTime,
}

impl Buckets {
    pub fn new(roots: Vec<PathBuf>, regions: Regions, requests: Arc<Requests>) -> Self {
        Self {
            roots,
            regions,
            requests,
        }
    }

    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// The index of the first root holding `bucket`.
    pub(super) fn root_of(&self, bucket: &str) -> Option<usize> {
        self.roots
            .iter()
            .position(|root| root.join(bucket).is_dir())
    }

    /// `bucket`'s folder, or S3's NoSuchBucket.
    fn folder(&self, bucket: &str) -> S3Result<PathBuf> {
        self.root_of(bucket)
            .map(|index| self.roots[index].join(bucket))
            .ok_or_else(no_such_bucket)
    }

    /// The file of object `key` in `bucket`, as S3 finds or refuses it: a key leaving its bucket
    /// is 400 InvalidArgument, a bucket no root has 404 NoSuchBucket, and a key no file is (one
    /// ending in `/`, one naming a folder, one under a file) 404 NoSuchKey. The endpoint's
    /// GetObject and COPY's reads both ask here.
    pub(super) fn object_file(&self, bucket: &str, key: &str) -> S3Result<std::fs::File> {
        inside_bucket("key", Some(key))?;
        let path = self.folder(bucket)?.join(key);
        // A folder holds objects but is none (and `a.json/` is not `a.json`: opening it fails,
        // NotADirectory, below).
        if key.is_empty() || path.is_dir() {
            return Err(no_such_key());
        }
        std::fs::File::open(&path).map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound
            | std::io::ErrorKind::NotADirectory
            | std::io::ErrorKind::InvalidInput => no_such_key(),
            // A file this process may not read: a fault of the machine, not an absent object.
            _ => s3s::s3_error!(InternalError, "reading {key}: {err}"),
        })
    }

    /// What S3 answers before it reads anything, for one of COPY's requests of `operation`
    /// signed for `signed_for`: the names first (uncounted, as the endpoint parses them before
    /// it counts), then the request is counted, then the bucket's region.
    fn admit(
        &self,
        operation: &str,
        signed_for: &str,
        bucket: &str,
        key: Option<&str>,
    ) -> S3Result<()> {
        if !s3s::path::check_bucket_name(bucket) {
            return Err(s3s::s3_error!(InvalidBucketName));
        }
        if key.is_some_and(|key| !s3s::path::check_key(key)) {
            return Err(s3s::s3_error!(KeyTooLongError));
        }
        self.requests.s3(operation, Some(COPY_ACCESS_KEY));
        match region_refusal(self.regions.of(bucket), Some(signed_for)) {
            Some(refused) => Err(refused),
            None => Ok(()),
        }
    }

    /// One GetObject, as COPY makes it: the object's bytes, or S3's refusal.
    fn read(&self, signed_for: &str, bucket: &str, key: &str) -> S3Result<Vec<u8>> {
        use std::io::Read;
        self.admit("GetObject", signed_for, bucket, Some(key))?;
        let mut bytes = Vec::new();
        self.object_file(bucket, key)?
            .read_to_end(&mut bytes)
            .map_err(|err| s3s::s3_error!(InternalError, "reading {key}: {err}"))?;
        Ok(bytes)
    }

    /// GetObject of each `(bucket, key)`, in order, signed for `signed_for`: one request each,
    /// read together on one blocking thread (a thread hop per small object would cost more than
    /// its read).
    pub async fn read_all(
        self: &Arc<Self>,
        signed_for: &str,
        objects: Vec<(String, String)>,
    ) -> Vec<S3Result<Vec<u8>>> {
        let (buckets, signed_for) = (self.clone(), signed_for.to_owned());
        let count = objects.len();
        tokio::task::spawn_blocking(move || {
            objects
                .iter()
                .map(|(bucket, key)| buckets.read(&signed_for, bucket, key))
                .collect()
        })
        .await
        .unwrap_or_else(|err| {
            (0..count)
                .map(|_| Err(s3s::s3_error!(InternalError, "reading: {err}")))
                .collect()
        })
    }

    /// Every key under `prefix` in `bucket`, in order, as the ListObjectsV2 pages COPY would
    /// request (each counted) give them.
    pub async fn list(
        &self,
        signed_for: &str,
        bucket: &str,
        prefix: &str,
    ) -> S3Result<Vec<String>> {
        self.admit("ListObjectsV2", signed_for, bucket, None)?;
        inside_bucket("prefix", Some(prefix))?;
        let folder = self.folder(bucket)?;
        let prefix = prefix.to_owned();
        let listed = tokio::task::spawn_blocking(move || walk(&folder, &prefix))
            .await
            .map_err(|err| s3s::s3_error!(InternalError, "listing: {err}"))?
            .map_err(|err| s3s::s3_error!(InternalError, "listing: {err}"))?;
        for _ in 1..listed.len().div_ceil(KEYS_PER_PAGE) {
            self.requests.s3("ListObjectsV2", Some(COPY_ACCESS_KEY));
        }
        Ok(listed.into_iter().map(|object| object.key).collect())
    }
}

/// S3's answer for a bucket that does not exist, on every operation that names one.
pub(super) fn no_such_bucket() -> s3s::S3Error {
    s3s::s3_error!(NoSuchBucket, "The specified bucket does not exist")
}

/// S3's answer for a key with no object.
pub(super) fn no_such_key() -> s3s::S3Error {
    s3s::s3_error!(NoSuchKey, "The specified key does not exist.")
}

/// Refuses a key, prefix, StartAfter or marker (`what`) that would leave its bucket's folder: one
/// with a `..` segment, or one that starts at `/` (joined onto a folder, an absolute path replaces
/// it). 400 InvalidArgument, naming it.
pub(super) fn inside_bucket(what: &str, value: Option<&str>) -> S3Result<()> {
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
pub(super) fn walk(bucket_dir: &Path, prefix: &str) -> std::io::Result<Vec<Listed>> {
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

/// The MD5 of a file, hex, as s3s-fs computes an ETag.
pub(super) fn md5_hex(path: &Path) -> std::io::Result<String> {
    use md5::Digest;
    let bytes = std::fs::read(path)?;
    Ok(md5::Md5::digest(&bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the endpoint refuses before its access check never reaches the counters; what it
    /// refuses after is counted, as S3 bills it.
    #[tokio::test]
    async fn names_s3_would_not_parse_are_refused_uncounted_and_the_rest_counted() {
        let root = std::env::temp_dir().join(format!("buckets-{}", std::process::id()));
        std::fs::create_dir_all(root.join("home/rows")).unwrap();
        std::fs::write(root.join("home/rows/1.json"), b"{}").unwrap();
        let requests = Arc::new(Requests::default());
        let buckets = Arc::new(Buckets::new(
            vec![root.clone()],
            Regions::default(),
            requests.clone(),
        ));
        let codes = |read: Vec<S3Result<Vec<u8>>>| -> Vec<String> {
            read.into_iter()
                .map(|r| r.map_or_else(|e| e.code().as_str().to_owned(), |_| "read".into()))
                .collect()
        };
        let named = |bucket: &str, key: &str| (bucket.to_owned(), key.to_owned());
        let read = buckets
            .read_all(
                "us-west-2",
                vec![named("..", "etc/passwd"), named("home", &"k".repeat(1025))],
            )
            .await;
        assert_eq!(codes(read), ["InvalidBucketName", "KeyTooLongError"]);
        assert_eq!(requests.report()["s3"], serde_json::json!({}));
        let read = buckets
            .read_all("eu-west-1", vec![named("home", "rows/1.json")])
            .await;
        assert_eq!(codes(read), ["PermanentRedirect"]);
        let read = buckets
            .read_all(
                "us-west-2",
                vec![
                    named("home", "rows/1.json"),
                    named("home", "rows"),
                    named("home", "gone"),
                ],
            )
            .await;
        assert_eq!(codes(read), ["read", "NoSuchKey", "NoSuchKey"]);
        assert_eq!(
            requests.report()["s3_by"]["copy"],
            serde_json::json!({"GET": 4})
        );
        std::fs::remove_dir_all(root).unwrap();
    }
}
