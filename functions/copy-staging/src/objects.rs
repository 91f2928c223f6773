//! copy-staging's S3 side: the objects a new-file event names, and writing each round's manifests
//! and object list for COPY to read (the listing is `list.rs`).

use crate::plan::Listed;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use serde_json::json;
use sparkify::EtlError;
use sparkify::sql::{AccountId, BucketName, S3Key};

/// An object a new-file event names, as HEAD describes it; None if there is none (404): deleted or
/// renamed since its event, or not this reading of the key, which leaves it out rather than
/// failing the rest of its window.
pub async fn head(
    s3: &Client,
    (bucket, owner): (&BucketName, Option<&AccountId>),
    key: &S3Key,
) -> Result<Option<(Listed, Option<aws_sdk_s3::primitives::DateTime>)>, EtlError> {
    let answer = s3
        .head_object()
        .bucket(bucket.as_str())
        .set_expected_bucket_owner(owner.map(|owner| owner.as_str().to_owned()))
        .key(key.as_str())
        .send()
        .await;
    let head = match answer {
        Ok(head) => head,
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => return Ok(None),
        Err(err) => return Err(EtlError::from_s3("HeadObject", err)),
    };
    let listed = Listed {
        key: key.clone(),
        etag: unquoted(head.e_tag().unwrap_or_default()),
        size: head.content_length().unwrap_or_default(),
    };
    Ok(Some((listed, head.last_modified().copied())))
}

/// Why a key a new-file event named is not loaded: no object answers to it, however it is read
/// (deleted or renamed since its event).
pub const NOT_FOUND: &str = "not found (HeadObject 404 however the key is read)";

/// Why a key a new-file event named is not loaded: several objects answer to its readings and the
/// event's ETag does not tell which it names. The nightly run loads them all.
pub const AMBIGUOUS: &str = "ambiguous";

/// An ETag as S3 quotes it, without its quotes.
pub fn unquoted(etag: &str) -> String {
    etag.trim_matches('"').to_owned()
}

/// A manifest naming exactly the objects `keys` of `bucket`, each mandatory: COPY fails if one is
/// gone.
pub fn manifest<'a>(bucket: &BucketName, keys: impl IntoIterator<Item = &'a S3Key>) -> Vec<u8> {
    let entries: Vec<_> = keys
        .into_iter()
        .map(|key| {
            json!({
                "url": format!("s3://{}/{}", bucket.as_str(), key.as_str()),
                "mandatory": true,
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "entries": entries })).expect("JSON values serialise")
}

/// The object list `sql/copy/staging_files.sql` loads: one JSON object per line, keyed by column.
pub fn object_list(run: &str, staged_at: &str, events: &[Listed], songs: &[Listed]) -> Vec<u8> {
    let mut out = Vec::new();
    let kinds = events
        .iter()
        .map(|o| ("events", o))
        .chain(songs.iter().map(|o| ("songs", o)));
    for (kind, object) in kinds {
        let line = json!({
            "run_id": run,
            "object_key": object.key.as_str(),
            "kind": kind,
            "etag": object.etag,
            "size_bytes": object.size,
            "staged_at": staged_at,
        });
        serde_json::to_writer(&mut out, &line).expect("JSON values serialise");
        out.push(b'\n');
    }
    out
}

/// Writes `body` to `bucket/key`, naming the bucket's owner when it is known
/// (`ExpectedBucketOwner`: a bucket of that name in another account answers 403).
pub async fn put(
    s3: &Client,
    (bucket, owner): (&BucketName, Option<&AccountId>),
    key: &S3Key,
    body: Vec<u8>,
) -> Result<(), EtlError> {
    s3.put_object()
        .bucket(bucket.as_str())
        .set_expected_bucket_owner(owner.map(|owner| owner.as_str().to_owned()))
        .key(key.as_str())
        .content_type("application/json")
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|err| EtlError::from_s3("PutObject", err))?;
    Ok(())
}

/// Writes every `(key, body)` to the bucket, all at once. The first failure to come back is the
/// answer, and the writes still under way are dropped (each key is written again in full when the
/// call is retried).
pub async fn put_all(
    s3: &Client,
    (bucket, owner): (&BucketName, Option<&AccountId>),
    writes: Vec<(S3Key, Vec<u8>)>,
) -> Result<(), EtlError> {
    use tracing::Instrument;
    let mut puts = tokio::task::JoinSet::new();
    for (key, body) in writes {
        let (s3, bucket, owner) = (s3.clone(), bucket.clone(), owner.cloned());
        let write = async move { put(&s3, (&bucket, owner.as_ref()), &key, body).await };
        puts.spawn(write.in_current_span());
    }
    while let Some(put) = puts.join_next().await {
        match put {
            Ok(written) => written?,
            // A write that panicked panics here, as it would have written in turn. (None is
            // cancelled: nothing aborts them, and a runtime shutting down stops this call too.)
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::head_object::HeadObjectOutput;
    use aws_sdk_s3::operation::put_object::PutObjectOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    /// Every call on a bucket whose owner is known names it (ExpectedBucketOwner); none when not.
    #[tokio::test]
    async fn calls_name_the_buckets_owner_when_it_is_known() {
        let owner = AccountId::parse("123456789012").unwrap();
        let bucket = BucketName::parse("sparkify-work").unwrap();
        let key = S3Key::parse("manifests/run-1/round-001/objects.json").unwrap();
        let put_rule = mock!(aws_sdk_s3::Client::put_object)
            .match_requests(|req| req.expected_bucket_owner() == Some("123456789012"))
            .then_output(|| PutObjectOutput::builder().build());
        let head_rule = mock!(aws_sdk_s3::Client::head_object)
            .match_requests(|req| req.expected_bucket_owner().is_none())
            .then_output(|| {
                HeadObjectOutput::builder()
                    .e_tag("\"e\"")
                    .content_length(3)
                    .build()
            });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&put_rule, &head_rule]);
        put(&s3, (&bucket, Some(&owner)), &key, b"{}".to_vec())
            .await
            .unwrap();
        assert!(head(&s3, (&bucket, None), &key).await.unwrap().is_some());
        assert_eq!((put_rule.num_calls(), head_rule.num_calls()), (1, 1));
    }

    /// Each of a round's files is written once, and one refused write is the answer (that they
    /// go together is measured in the sample's run, docs/performance.md).
    #[tokio::test]
    async fn a_rounds_files_are_each_written_once_and_one_refused_write_fails_them() {
        use aws_sdk_s3::operation::put_object::PutObjectError;
        let bucket = BucketName::parse("sparkify-work").unwrap();
        let writes = |keys: &[&str]| -> Vec<(S3Key, Vec<u8>)> {
            keys.iter()
                .map(|key| (S3Key::parse(key).unwrap(), key.as_bytes().to_vec()))
                .collect()
        };
        let written = mock!(aws_sdk_s3::Client::put_object)
            .match_requests(|req| req.key() != Some("m/refused.manifest"))
            .then_output(|| PutObjectOutput::builder().build());
        let refused = mock!(aws_sdk_s3::Client::put_object)
            .match_requests(|req| req.key() == Some("m/refused.manifest"))
            .then_error(|| {
                PutObjectError::generic(
                    aws_sdk_s3::error::ErrorMetadata::builder()
                        .code("AccessDenied")
                        .build(),
                )
            });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&written, &refused]);
        let keys = [
            "m/objects.json",
            "m/objects.manifest",
            "m/events-01.manifest",
        ];
        put_all(&s3, (&bucket, None), writes(&keys)).await.unwrap();
        assert_eq!(written.num_calls(), 3);
        let failed = put_all(&s3, (&bucket, None), writes(&["m/a", "m/refused.manifest"])).await;
        assert!(
            failed
                .as_ref()
                .is_err_and(|err| err.to_string().contains("AccessDenied")),
            "{failed:?}"
        );
        assert_eq!(refused.num_calls(), 1);
    }

    fn listed(key: &str) -> Listed {
        Listed {
            key: S3Key::parse(key).unwrap(),
            etag: "abc".into(),
            size: 7,
        }
    }

    #[test]
    fn a_manifest_lists_each_object_as_a_mandatory_url_with_the_key_json_escaped() {
        let bucket = BucketName::parse("udacity-dend").unwrap();
        let body = manifest(&bucket, [&listed("log_data/it's \"odd\"; DROP.json").key]);
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            parsed["entries"][0]["url"],
            "s3://udacity-dend/log_data/it's \"odd\"; DROP.json"
        );
        assert_eq!(parsed["entries"][0]["mandatory"], true);
    }

    #[test]
    fn the_object_list_has_one_line_per_object_with_its_kind() {
        let body = object_list(
            "run-1",
            "2026-11-22 10:00:00",
            &[listed("log_data/a.json")],
            &[listed("song_data/b.json")],
        );
        let lines: Vec<serde_json::Value> = String::from_utf8(body)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["kind"], "events");
        assert_eq!(lines[1]["kind"], "songs");
        assert_eq!(lines[1]["size_bytes"], 7);
        assert_eq!(lines[0]["run_id"], "run-1");
    }
}
