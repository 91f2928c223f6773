//! Where a COPY's objects come from: every key under its prefix, or the entries of its manifest
//! (a mandatory entry that is missing fails the COPY, code 1212; an optional one is skipped; a
//! manifest that finds no file fails it: "Regardless of any mandatory settings, COPY will terminate
//! if no files are found"). Each object is one GetObject signed for the COPY's region: of the
//! buckets this stand-in serves, read in this process ([`crate::s3::Buckets`], which finds and
//! refuses objects as its endpoint does), or of an S3 endpoint elsewhere through `aws-sdk-s3`,
//! one attempt each. A manifest, a manifest entry or a JSONPaths file must name an object: a URL
//! with no key (`s3://bucket`, `s3://bucket/`) fails the COPY before any request. "By default,
//! COPY assumes that the data is located in the same Region as the Amazon Redshift cluster"; with
//! REGION, "all resources, including a manifest file ..., must be located in the
//! specified Region", so a bucket elsewhere answers 301 PermanentRedirect ([`crate::s3`]) and the
//! COPY fails with Redshift's S3ServiceException.
//!
//! A compressed object is decompressed with the COPY's codec. One that does not decompress fails
//! the COPY, as Redshift fails a load it cannot inflate: the one report of that failure's text is
//! "ERROR: failed to inflate with lzop: unexpected end of file." with "code: 9001" and "context:
//! S3 key being read : s3://..." (snowplow/snowplow#1265); the guides give none, so the stand-in
//! words it the same way for its codec. It is not a rejected record and records no load error.

use super::command::{Compression, CopyCommand};
use crate::s3::Buckets;
use aws_sdk_s3::Client as S3Client;
use futures_util::stream::{self, BoxStream, StreamExt};
use serde_json::Value;
use std::io::Read;
use std::sync::Arc;

/// Objects read at once: as many requests in flight from an S3 endpoint (many small objects, one
/// per song, make the round trips the cost), and as many read ahead of the conversion from the
/// served buckets (two reads of half as many, each on one blocking thread: a thread hop per small
/// object would cost more than its read). A COPY that fails stops after at most these.
const OBJECTS_IN_FLIGHT: usize = 64;

/// Where COPY reads S3.
pub enum S3Reads {
    /// The buckets this stand-in serves, read in this process.
    Served(Arc<Buckets>),
    /// An S3 endpoint elsewhere (`--s3-endpoint`), through `aws-sdk-s3`.
    Endpoint(crate::s3::Clients),
}

impl S3Reads {
    /// COPY's reads, signed for `region`.
    pub fn in_region(&self, region: &str) -> Reader {
        match self {
            Self::Served(buckets) => Reader::Served {
                buckets: buckets.clone(),
                region: region.to_owned(),
            },
            Self::Endpoint(clients) => Reader::Endpoint(clients.for_region(region)),
        }
    }
}

/// One COPY's reads, signed for one region.
pub enum Reader {
    Served {
        buckets: Arc<Buckets>,
        region: String,
    },
    Endpoint(S3Client),
}

/// An object read, None when it does not exist, or Redshift's error.
type Fetched = Result<Option<Vec<u8>>, String>;

/// An object a COPY reads, and what its absence means.
#[derive(Debug, Clone)]
pub(super) struct Source {
    pub(super) uri: String,
    bucket: String,
    key: String,
    pub(super) need: Need,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Need {
    /// Listed under the prefix: gone by the time it is read is an error.
    Listed,
    /// A manifest entry with `"mandatory": true`: its absence fails the COPY (error 1212).
    Mandatory,
    /// Any other manifest entry: skipped when absent.
    Optional,
}

impl Source {
    /// The object `uri` names; a URL with no key names none.
    fn object(uri: &str, need: Need) -> Result<Self, String> {
        let (bucket, key) = split_uri(uri)?;
        if key.is_empty() {
            return Err(format!(
                "ERROR: '{uri}' names no object: a manifest, its entries and a JSONPaths file are objects (s3://bucket/key)"
            ));
        }
        Ok(Self {
            uri: uri.to_owned(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            need,
        })
    }
}

/// Why an S3 request failed: S3's answer, or no answer at all.
enum Failure {
    Answered {
        code: String,
        message: String,
        status: u16,
    },
    Unanswered(String),
}

impl Failure {
    fn from_served(err: &s3s::S3Error) -> Self {
        Self::Answered {
            code: err.code().as_str().to_owned(),
            message: err.message().unwrap_or("").to_owned(),
            status: err.status_code().map_or(500, |status| status.as_u16()),
        }
    }

    fn from_sdk<E>(
        err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> Self
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        use aws_sdk_s3::error::ProvideErrorMetadata;
        match (err.code(), err.raw_response()) {
            (Some(code), Some(raw)) => Self::Answered {
                code: code.to_owned(),
                message: err.message().unwrap_or("").to_owned(),
                status: raw.status().as_u16(),
            },
            _ => Self::Unanswered(sdk_error(err)),
        }
    }

    fn is_no_such_key(&self) -> bool {
        matches!(self, Self::Answered { code, .. } if code == "NoSuchKey")
    }

    /// As Redshift reports it (`S3ServiceException:<message>,Status <n>,Error <code>`), with
    /// what COPY was doing; a request with no answer (a transport failure) as the SDK words it.
    fn text(&self, doing: &str) -> String {
        match self {
            Self::Answered {
                code,
                message,
                status,
            } => format!(
                "ERROR: S3ServiceException:{message},Status {status},Error {code} DETAIL: {doing}"
            ),
            Self::Unanswered(detail) => format!("ERROR: S3 request failed ({doing}): {detail}"),
        }
    }
}

impl Reader {
    /// The object at `uri`; it must exist.
    pub(super) async fn get(&self, uri: &str) -> Result<Vec<u8>, String> {
        let source = Source::object(uri, Need::Listed)?;
        let read = match self {
            Self::Served { buckets, region } => {
                let mut read = buckets
                    .read_all(region, vec![(source.bucket, source.key)])
                    .await;
                read.pop()
                    .expect("one read per object")
                    .map_err(|err| Failure::from_served(&err))
            }
            Self::Endpoint(s3) => sdk_get(s3, &source.bucket, &source.key).await,
        };
        read.map_err(|failure| failure.text(&format!("reading {uri}")))
    }

    /// Every key under `prefix` in `bucket`, in order.
    async fn list(&self, bucket: &str, prefix: &str, from: &str) -> Result<Vec<String>, String> {
        let doing = format!("listing {from}");
        let s3 = match self {
            Self::Served { buckets, region } => {
                return buckets
                    .list(region, bucket, prefix)
                    .await
                    .map_err(|err| Failure::from_served(&err).text(&doing));
            }
            Self::Endpoint(s3) => s3,
        };
        let mut keys = Vec::new();
        let mut pages = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| Failure::from_sdk(&err).text(&doing))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        Ok(keys)
    }

    /// Each of `objects` read, in their order, several at a time.
    pub(super) fn fetch_all(&self, objects: Vec<Source>) -> BoxStream<'static, (Source, Fetched)> {
        match self {
            Self::Served { buckets, region } => {
                let (buckets, region) = (buckets.clone(), region.clone());
                let chunks: Vec<Vec<Source>> = objects
                    .chunks(OBJECTS_IN_FLIGHT / 2)
                    .map(<[Source]>::to_vec)
                    .collect();
                stream::iter(chunks)
                    .map(move |chunk| read_served(buckets.clone(), region.clone(), chunk))
                    .buffered(2)
                    .flat_map(stream::iter)
                    .boxed()
            }
            Self::Endpoint(s3) => {
                let s3 = s3.clone();
                stream::iter(objects)
                    .map(move |source| {
                        let s3 = s3.clone();
                        async move {
                            let read = sdk_get(&s3, &source.bucket, &source.key).await;
                            let fetched = found(&source.uri, read);
                            (source, fetched)
                        }
                    })
                    .buffered(OBJECTS_IN_FLIGHT)
                    .boxed()
            }
        }
    }
}

/// A read as COPY takes it: NoSuchKey is an object that is not there.
fn found(uri: &str, read: Result<Vec<u8>, Failure>) -> Fetched {
    match read {
        Ok(bytes) => Ok(Some(bytes)),
        Err(failure) if failure.is_no_such_key() => Ok(None),
        Err(failure) => Err(failure.text(&format!("reading {uri}"))),
    }
}

/// `chunk`'s objects read from the served buckets.
async fn read_served(
    buckets: Arc<Buckets>,
    region: String,
    chunk: Vec<Source>,
) -> Vec<(Source, Fetched)> {
    let names = chunk
        .iter()
        .map(|source| (source.bucket.clone(), source.key.clone()))
        .collect();
    let read = buckets.read_all(&region, names).await;
    chunk
        .into_iter()
        .zip(read)
        .map(|(source, read)| {
            let fetched = found(&source.uri, read.map_err(|err| Failure::from_served(&err)));
            (source, fetched)
        })
        .collect()
}

/// One GetObject through the SDK: the object's bytes, or why not.
async fn sdk_get(s3: &S3Client, bucket: &str, key: &str) -> Result<Vec<u8>, Failure> {
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|err| Failure::from_sdk(&err))?;
    let body = object
        .body
        .collect()
        .await
        .map_err(|err| Failure::Unanswered(sdk_error(&err)))?;
    Ok(body.into_bytes().to_vec())
}

/// `raw` as the COPY's codec gives it back, or Redshift's failure for an object that does not
/// decompress.
pub(super) fn decompressed(
    compression: Compression,
    uri: &str,
    raw: Vec<u8>,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let (codec, read) = match compression {
        Compression::None => return Ok(raw),
        Compression::Gzip => (
            "gzip",
            flate2::read::MultiGzDecoder::new(raw.as_slice()).read_to_end(&mut out),
        ),
        Compression::Bzip2 => (
            "bzip2",
            bzip2_rs::DecoderReader::new(raw.as_slice()).read_to_end(&mut out),
        ),
        Compression::Zstd => (
            "zstd",
            ruzstd::decoding::StreamingDecoder::new(raw.as_slice())
                .map_err(std::io::Error::other)
                .and_then(|mut decoder| decoder.read_to_end(&mut out)),
        ),
    };
    match read {
        Ok(_) => Ok(out),
        Err(err) => Err(format!(
            "ERROR: failed to inflate with {codec}: {err}. DETAIL: code: 9001 context: S3 key being read : {uri}"
        )),
    }
}

pub(super) fn split_uri(uri: &str) -> Result<(&str, &str), String> {
    uri.strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/').or(Some((rest, ""))))
        .filter(|(bucket, _)| !bucket.is_empty())
        .ok_or_else(|| format!("ERROR: '{uri}' is not an s3:// location"))
}

/// The objects a COPY reads: every key under the prefix, or the manifest's entries.
pub(super) async fn source_objects(
    reader: &Reader,
    command: &CopyCommand,
) -> Result<Vec<Source>, String> {
    if command.manifest {
        let manifest: Value = serde_json::from_slice(&reader.get(&command.from).await?)
            .map_err(|err| format!("ERROR: manifest {} is not valid JSON: {err}", command.from))?;
        let entries = manifest
            .get("entries")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("ERROR: manifest {} has no \"entries\" list", command.from))?;
        let mut sources = Vec::new();
        for entry in entries {
            let url = entry
                .get("url")
                .and_then(Value::as_str)
                .ok_or("ERROR: a manifest entry has no url")?;
            let mandatory = entry
                .get("mandatory")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            // Whether it exists is learnt when it is read: one request per entry, not two.
            let need = if mandatory {
                Need::Mandatory
            } else {
                Need::Optional
            };
            sources.push(Source::object(url, need)?);
        }
        return Ok(sources);
    }
    let (bucket, prefix) = split_uri(&command.from)?;
    let mut sources = Vec::new();
    for key in reader.list(bucket, prefix, &command.from).await? {
        if !key.ends_with('/') {
            sources.push(Source::object(
                &format!("s3://{bucket}/{key}"),
                Need::Listed,
            )?);
        }
    }
    if sources.is_empty() {
        return Err(format!(
            "ERROR: The specified S3 prefix '{prefix}' does not exist"
        ));
    }
    sources.sort_by(|a, b| a.uri.cmp(&b.uri));
    Ok(sources)
}

fn sdk_error(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDS: &[u8] = b"{\"a\": 1}\n{\"a\": 2}\n";

    /// RECORDS as Python's `bz2.compress` writes them (the stand-in has a BZIP2 reader only).
    const RECORDS_BZIP2: [u8; 55] = [
        66, 90, 104, 57, 49, 65, 89, 38, 83, 89, 238, 59, 33, 180, 0, 0, 7, 89, 128, 0, 16, 80, 0,
        48, 16, 32, 0, 0, 10, 32, 0, 33, 40, 13, 52, 32, 201, 136, 98, 56, 102, 136, 16, 223, 139,
        185, 34, 156, 40, 72, 119, 29, 144, 218, 0,
    ];

    #[test]
    fn each_codec_gives_back_the_records_and_a_wrong_one_fails_as_redshift_fails() {
        use std::io::Write;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(RECORDS).unwrap();
        let gzip = gzip.finish().unwrap();
        let zstd =
            ruzstd::encoding::compress_to_vec(RECORDS, ruzstd::encoding::CompressionLevel::Fastest);
        for (codec, bytes) in [
            (Compression::Gzip, gzip.clone()),
            (Compression::Bzip2, RECORDS_BZIP2.to_vec()),
            (Compression::Zstd, zstd),
        ] {
            assert_eq!(
                decompressed(codec, "s3://b/k", bytes).unwrap(),
                RECORDS,
                "{codec:?}"
            );
        }
        assert_eq!(
            decompressed(Compression::None, "s3://b/k", RECORDS.to_vec()).unwrap(),
            RECORDS
        );
        for codec in [Compression::Gzip, Compression::Bzip2, Compression::Zstd] {
            let err = decompressed(codec, "s3://b/k.gz", RECORDS.to_vec()).unwrap_err();
            assert!(err.starts_with("ERROR: failed to inflate with "), "{err}");
            assert!(
                err.contains("code: 9001") && err.contains("s3://b/k.gz"),
                "{err}"
            );
        }
    }
}
