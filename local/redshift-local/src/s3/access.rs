//! What S3 refuses before it looks at an object: a request whose Host is not this machine's
//! (403), an unsigned one, one naming another bucket owner (403), and one signed for another
//! region than its bucket's (301 PermanentRedirect). Every request is counted here, refused or
//! not, as S3 bills them.

use super::{LOCAL_ACCOUNT, Regions, SECRET_ACCESS_KEY};
use crate::requests::Requests;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Error, S3Result};
use std::sync::Arc;

/// S3's answer to a request for a bucket in `home` signed for `signed_for`: none when they
/// match (or the request names no region), else 301 PermanentRedirect with the bucket's region
/// in `x-amz-bucket-region`, as S3 answers a request sent to the wrong regional endpoint.
pub(super) fn region_refusal(home: &str, signed_for: Option<&str>) -> Option<S3Error> {
    let region = signed_for?;
    if region == home {
        return None;
    }
    let mut error = s3s::s3_error!(
        PermanentRedirect,
        "The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint."
    );
    let mut headers = axum::http::HeaderMap::new();
    if let Ok(value) = axum::http::HeaderValue::from_str(home) {
        headers.insert("x-amz-bucket-region", value);
    }
    error.set_headers(headers);
    Some(error)
}

/// The endpoint's checks, in S3's order; `2` is the address it listens on.
pub(super) struct BucketRegions(pub Regions, pub Arc<Requests>, pub std::net::IpAddr);

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
        let signed_for = cx
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::identity::signing_region);
        match region_refusal(self.0.of(&bucket), signed_for) {
            Some(refused) => Err(refused),
            None => Ok(()),
        }
    }
}

/// Every access key ID signs with [`SECRET_ACCESS_KEY`].
pub(super) struct AnyAccessKey;

#[async_trait::async_trait]
impl S3Auth for AnyAccessKey {
    async fn get_secret_key(&self, _access_key: &str) -> S3Result<SecretKey> {
        Ok(SecretKey::from(SECRET_ACCESS_KEY))
    }
}
