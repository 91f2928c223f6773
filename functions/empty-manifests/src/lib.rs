//! The `empty-manifests` Lambda: the CloudFormation custom resource that empties the manifest
//! bucket when the stack is deleted. CloudFormation deletes only empty buckets, and copy-staging
//! leaves manifests behind (they expire after a week), so without it `sam delete` would stop at
//! the bucket.
//!
//! - `Delete`: every object of the manifest bucket is deleted (ListObjectsV2 pages, one
//!   DeleteObjects per page); a bucket that is already gone is fine.
//! - `Create` and `Update`: the stack's Rust functions must start. `sam deploy --guided` saves
//!   `Architecture` for `sam deploy` only, so `sam build` can compile for the other instruction
//!   set, and then every function but this one (always x86_64) fails with
//!   `Runtime.InvalidEntrypoint` ("exec format error"). This function invokes one of them (the
//!   warehouse function, `PROBE_FUNCTION`) with an input it refuses: an answer of the function's
//!   own (its `InvalidInput`) shows it starts; an error of Lambda's runtime (`Runtime.*`) fails the
//!   resource with `ConfigError`, which rolls the deployment back before any run, and says how to
//!   build for `ARCHITECTURE`.
//!
//! The bucket is the one the configuration names (`MANIFEST_BUCKET`), never one from the
//! request, so this function cannot be turned on another bucket. CloudFormation is always
//! answered (the PUT to the request's presigned `ResponseURL`), with `FAILED` and the error's
//! name when the bucket could not be emptied or the configuration is wrong: a stack deletion then
//! stops with that reason instead of waiting an hour for an answer.

use aws_sdk_lambda::Client as LambdaClient;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_s3::Client;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sparkify::EtlError;
use sparkify::config::ManifestBucket;
use sparkify::sql::{AccountId, BucketName};

/// What CloudFormation sends a custom resource (the fields this function reads).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub request_type: RequestType,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    /// Absent on Create.
    #[serde(default)]
    pub physical_resource_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Success,
    Failed,
}

/// The answer CloudFormation reads from the response URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub status: Status,
    pub reason: String,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
}

/// CloudFormation takes at most 4 KiB of response; the reason is cut well below that.
const MAX_REASON: usize = 1000;

/// The function whose start shows that the stack's functions were built for the instruction set
/// they are deployed on, and that instruction set: `PROBE_FUNCTION` and `ARCHITECTURE`, which the
/// template sets on this function alone (the warehouse function's name, the stack's
/// `Architecture`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub function: String,
    pub architecture: String,
}

impl Probe {
    pub const FUNCTION_VAR: &'static str = "PROBE_FUNCTION";
    pub const ARCHITECTURE_VAR: &'static str = "ARCHITECTURE";

    /// Reads both from the process environment; either missing is a `ConfigError`.
    pub fn from_env() -> Result<Self, EtlError> {
        let get = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.is_empty())
                .ok_or_else(|| EtlError::Config(format!("{name} is not set")))
        };
        Ok(Self {
            function: get(Self::FUNCTION_VAR)?,
            architecture: get(Self::ARCHITECTURE_VAR)?,
        })
    }
}

/// What the probed function is sent: an input no function of the stack takes, so it answers with
/// its own `InvalidInput` and does nothing.
pub const PROBE_INPUT: &[u8] = br#"{"probe": "does this function start"}"#;

/// Invokes the probe's function once and says whether it started. Lambda answers a function
/// that cannot start with a `FunctionError` whose `errorType` is the runtime's
/// (`Runtime.InvalidEntrypoint`, "fork/exec /var/task/bootstrap: exec format error", for a
/// binary of the other instruction set); any error of the function's own shows it ran.
pub async fn probe(lambda: &LambdaClient, probe: &Probe) -> Result<String, EtlError> {
    let answer = lambda
        .invoke()
        .function_name(&probe.function)
        .payload(Blob::new(PROBE_INPUT))
        .send()
        .await
        .map_err(|err| {
            EtlError::Config(format!(
                "could not invoke {} to see that the stack's functions start: {}",
                probe.function,
                aws_sdk_lambda::error::DisplayErrorContext(err)
            ))
        })?;
    let body: Value = answer
        .payload()
        .and_then(|payload| serde_json::from_slice(payload.as_ref()).ok())
        .unwrap_or(Value::Null);
    let error_type = body["errorType"].as_str().unwrap_or_default();
    if answer.function_error().is_none() || !error_type.starts_with("Runtime.") {
        return Ok(format!(
            "{} starts on {}",
            probe.function, probe.architecture
        ));
    }
    let message = body["errorMessage"].as_str().unwrap_or_default();
    let hint = if message.contains("exec format error") {
        format!(
            "its binary was built for another instruction set than Architecture={arch}. Build for \
             it: sam build --parameter-overrides Architecture={arch} (or set Architecture={arch} \
             in parameter_overrides under [default.global.parameters] in samconfig.toml, which \
             sam build and sam deploy both read), then deploy again",
            arch = probe.architecture
        )
    } else {
        "see its log group".to_owned()
    };
    Err(EtlError::Config(format!(
        "{} does not start ({error_type}: {message}): {hint}",
        probe.function
    )))
}

/// The function's name: its package's, the Handler the template gives it (`functions/bootstrap`).
pub const NAME: &str = env!("CARGO_PKG_NAME");

/// The Lambda: [`run`] on the Lambda Runtime API, run by this crate's binary and by the stack's
/// one bootstrap (`functions/bootstrap`). A configuration error is reported to CloudFormation on
/// every request, not a crash at init.
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let bucket = sparkify::config::manifest_bucket_from_env();
    let probe = Probe::from_env();
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // An endpoint of its own (a local S3) is addressed path-style.
    let custom_endpoint = std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let clients = Clients {
        s3: Client::from_conf(
            aws_sdk_s3::config::Builder::from(&aws)
                .force_path_style(custom_endpoint)
                .build(),
        ),
        lambda: LambdaClient::new(&aws),
    };
    let setup = Setup {
        bucket: bucket.as_ref(),
        probe: probe.as_ref(),
    };
    let (clients, setup) = (&clients, &setup);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Value>| async move {
            // Boxed, as `sparkify::lambda::serve` boxes a handler's future.
            Box::pin(run(clients, setup, event.payload)).await
        },
    ))
    .await
}

/// One invocation: the request parsed, the bucket emptied if the stack is being deleted, and
/// CloudFormation answered. An event without a response URL cannot be answered and is
/// `InvalidInput`; a PUT that fails is `S3Unavailable` or `S3Rejected` (the URL is S3's), so
/// Lambda's retry of the asynchronous invocation tries again (emptying twice is harmless).
pub async fn run(
    clients: &Clients,
    config: &Setup<'_>,
    payload: Value,
) -> Result<Response, EtlError> {
    let request: Request = sparkify::lambda::parse_input(payload)?;
    let response = answer(clients, config, &request).await;
    tracing::info!(
        request_type = ?request.request_type,
        status = ?response.status,
        reason = %response.reason,
        "answering CloudFormation"
    );
    respond(&request.response_url, &response).await?;
    Ok(response)
}

/// The clients this function calls.
pub struct Clients {
    pub s3: Client,
    pub lambda: LambdaClient,
}

/// Its configuration, read once at init; an error is answered to CloudFormation on every request
/// that needs the part, never a crash (nothing would answer).
pub struct Setup<'a> {
    pub bucket: Result<&'a ManifestBucket, &'a EtlError>,
    pub probe: Result<&'a Probe, &'a EtlError>,
}

/// What to tell CloudFormation about `request`. Deleting never depends on the probe: a stack
/// whose functions do not start must still roll back and delete.
pub async fn answer(clients: &Clients, config: &Setup<'_>, request: &Request) -> Response {
    let outcome = match (request.request_type, config.bucket) {
        (_, Err(err)) => Err(err.clone()),
        (RequestType::Delete, Ok(bucket)) => {
            empty(&clients.s3, &bucket.name, bucket.owner.as_ref())
                .await
                .map(|deleted| format!("deleted {deleted} objects from {}", bucket.name.as_str()))
        }
        (_, Ok(bucket)) => match config.probe {
            Err(err) => Err(err.clone()),
            Ok(probed) => probe(&clients.lambda, probed).await.map(|started| {
                format!(
                    "{started}; {} is emptied when the stack is deleted",
                    bucket.name.as_str()
                )
            }),
        },
    };
    let (status, reason) = match outcome {
        Ok(done) => (Status::Success, done),
        Err(err) => {
            let mut reason = format!("{}: {err}", err.name());
            if reason.len() > MAX_REASON {
                let cut = (0..=MAX_REASON)
                    .rev()
                    .find(|&i| reason.is_char_boundary(i))
                    .unwrap_or(0);
                reason.truncate(cut);
            }
            (Status::Failed, reason)
        }
    };
    Response {
        status,
        reason,
        // Kept as CloudFormation gave it: a new id on Update would make it delete the "old" one.
        physical_resource_id: request
            .physical_resource_id
            .clone()
            .unwrap_or_else(|| format!("{}-empty-on-delete", request.logical_resource_id)),
        stack_id: request.stack_id.clone(),
        request_id: request.request_id.clone(),
        logical_resource_id: request.logical_resource_id.clone(),
    }
}

/// Deletes every object of `bucket`; returns how many. A bucket that does not exist is empty.
/// Every call names the bucket's `owner` when it is known (`ExpectedBucketOwner`): a bucket of
/// that name in another account answers 403 rather than being emptied.
pub async fn empty(
    s3: &Client,
    bucket: &BucketName,
    owner: Option<&AccountId>,
) -> Result<usize, EtlError> {
    let owner = owner.map(|owner| owner.as_str().to_owned());
    let mut deleted = 0;
    let mut token: Option<String> = None;
    loop {
        let page = match s3
            .list_objects_v2()
            .bucket(bucket.as_str())
            .set_expected_bucket_owner(owner.clone())
            .set_continuation_token(token.take())
            .send()
            .await
        {
            Ok(page) => page,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_no_such_bucket()) =>
            {
                return Ok(deleted);
            }
            Err(err) => return Err(EtlError::from_s3("ListObjectsV2", err)),
        };
        let keys = page
            .contents()
            .iter()
            .filter_map(|object| object.key())
            .map(|key| ObjectIdentifier::builder().key(key).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| EtlError::S3Rejected(err.to_string()))?;
        if !keys.is_empty() {
            let count = keys.len();
            let batch = Delete::builder()
                .set_objects(Some(keys))
                .quiet(true)
                .build()
                .map_err(|err| EtlError::S3Rejected(err.to_string()))?;
            let answer = s3
                .delete_objects()
                .bucket(bucket.as_str())
                .set_expected_bucket_owner(owner.clone())
                .delete(batch)
                .send()
                .await
                .map_err(|err| EtlError::from_s3("DeleteObjects", err))?;
            if let Some(refused) = answer.errors().first() {
                return Err(EtlError::S3Rejected(format!(
                    "DeleteObjects refused {} of {count} objects of {}, the first {:?}: {} {}",
                    answer.errors().len(),
                    bucket.as_str(),
                    refused.key().unwrap_or_default(),
                    refused.code().unwrap_or_default(),
                    refused.message().unwrap_or_default(),
                )));
            }
            deleted += count;
            tracing::info!(
                deleted,
                bucket = bucket.as_str(),
                "deleted a page of objects"
            );
        }
        match page.next_continuation_token() {
            Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
            _ => return Ok(deleted),
        }
    }
}

/// The URL a response may go to: CloudFormation's, a presigned S3 URL, which is `https` ("The
/// response URL ... a presigned Amazon S3 URL": custom resource request objects); anything else
/// would send the stack's answer, and the bucket's name in it, in the clear or elsewhere. `http`
/// is taken only for a loopback host, where the end-to-end test answers in CloudFormation's place.
pub fn response_uri(url: &str) -> Result<hyper::Uri, EtlError> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|err| EtlError::InvalidInput(format!("ResponseURL {url:?}: {err}")))?;
    let loopback = matches!(
        uri.host(),
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
    );
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if loopback => Ok(uri),
        _ => Err(EtlError::InvalidInput(format!(
            "ResponseURL {url:?} is not https: CloudFormation's is a presigned S3 URL over https"
        ))),
    }
}

/// PUTs `response` to CloudFormation's presigned URL, as its cfn-response helper does (a JSON
/// body, no content type: the URL was signed without one).
pub async fn respond(url: &str, response: &Response) -> Result<(), EtlError> {
    let uri = response_uri(url)?;
    let body = serde_json::to_vec(response).expect("a response serialises");
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|err| EtlError::S3Unavailable(format!("no TLS roots for the response: {err}")))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: HttpClient<_, Full<Bytes>> = HttpClient::builder(TokioExecutor::new()).build(https);
    let request = hyper::Request::put(uri)
        .header(hyper::header::CONTENT_LENGTH, body.len())
        .body(Full::new(Bytes::from(body)))
        .map_err(|err| EtlError::InvalidInput(format!("ResponseURL {url:?}: {err}")))?;
    let answer = client
        .request(request)
        .await
        .map_err(|err| EtlError::S3Unavailable(format!("PUT to the response URL: {err}")))?;
    let status = answer.status();
    if status.is_success() {
        return Ok(());
    }
    let text = answer
        .into_body()
        .collect()
        .await
        .map(|body| String::from_utf8_lossy(&body.to_bytes()).into_owned())
        .unwrap_or_default();
    let message = format!("PUT to the response URL answered {status}: {text}");
    Err(if status.is_server_error() {
        EtlError::S3Unavailable(message)
    } else {
        EtlError::S3Rejected(message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_lambda::operation::invoke::InvokeOutput;
    use aws_sdk_s3::operation::delete_objects::DeleteObjectsOutput;
    use aws_sdk_s3::operation::list_objects_v2::{ListObjectsV2Error, ListObjectsV2Output};
    use aws_sdk_s3::types::error::NoSuchBucket;
    use aws_sdk_s3::types::{Error as S3Error, Object};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use std::sync::{Arc, Mutex};

    fn bucket() -> ManifestBucket {
        ManifestBucket {
            name: BucketName::parse("sparkify-work").unwrap(),
            owner: Some(AccountId::parse("123456789012").unwrap()),
        }
    }

    fn request(request_type: &str) -> Request {
        serde_json::from_value(serde_json::json!({
            "RequestType": request_type,
            "ServiceToken": "arn:aws:lambda:us-west-2:123456789012:function:empty-manifests",
            "ResponseURL": "https://cloudformation-custom-resource-response-uswest2.s3.amazonaws.com/x",
            "StackId": "arn:aws:cloudformation:us-west-2:123456789012:stack/sparkify-etl/1",
            "RequestId": "5d478078-13e9-baf0-464a-7ef285ecc786",
            "ResourceType": "Custom::EmptyManifests",
            "LogicalResourceId": "EmptyManifestsOnDelete",
            "PhysicalResourceId": if request_type == "Create" { None } else { Some("EmptyManifestsOnDelete-empty-on-delete") },
            "ResourceProperties": {"ServiceToken": "arn", "Bucket": "another-bucket"}
        }))
        .unwrap()
    }

    fn object(key: &str) -> Object {
        Object::builder().key(key).build()
    }

    fn probe_config() -> Probe {
        Probe {
            function: "sparkify-etl-WarehouseFunction-x1".into(),
            architecture: "arm64".into(),
        }
    }

    /// The function's answer to `s3` and to a Lambda that answers the probe with `invoked`
    /// (none: the probe is not invoked).
    async fn answered(
        s3: Client,
        invoked: Option<InvokeOutput>,
        bucket: Result<&ManifestBucket, &EtlError>,
        request: &Request,
    ) -> (Response, usize) {
        let rule = match invoked {
            Some(output) => mock!(LambdaClient::invoke)
                .match_requests(|req| {
                    req.function_name() == Some("sparkify-etl-WarehouseFunction-x1")
                        && req.payload().map(|p| p.as_ref()) == Some(PROBE_INPUT)
                })
                .then_output(move || output.clone()),
            None => mock!(LambdaClient::invoke).then_output(|| InvokeOutput::builder().build()),
        };
        let lambda = mock_client!(aws_sdk_lambda, [&rule]);
        let probe = probe_config();
        let clients = Clients { s3, lambda };
        let setup = Setup {
            bucket,
            probe: Ok(&probe),
        };
        let response = answer(&clients, &setup, request).await;
        (response, rule.num_calls())
    }

    /// Lambda's answer to an invocation that failed: `FunctionError` and the error document.
    fn failed(error_type: &str, message: &str) -> InvokeOutput {
        InvokeOutput::builder()
            .status_code(200)
            .function_error("Unhandled")
            .payload(Blob::new(
                serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string(),
            ))
            .build()
    }

    #[tokio::test]
    async fn delete_empties_every_page_of_the_configured_bucket_only() {
        let first = mock!(Client::list_objects_v2)
            .match_requests(|req| {
                req.bucket() == Some("sparkify-work")
                    && req.expected_bucket_owner() == Some("123456789012")
                    && req.continuation_token().is_none()
            })
            .then_output(|| {
                ListObjectsV2Output::builder()
                    .contents(object("manifests/run-1/logs.manifest"))
                    .contents(object("manifests/run-1/songs.manifest"))
                    .is_truncated(true)
                    .next_continuation_token("page-2")
                    .build()
            });
        let second = mock!(Client::list_objects_v2)
            .match_requests(|req| {
                req.bucket() == Some("sparkify-work") && req.continuation_token() == Some("page-2")
            })
            .then_output(|| {
                ListObjectsV2Output::builder()
                    .contents(object("manifests/run-2/logs.manifest"))
                    .is_truncated(false)
                    .build()
            });
        let deleted = Arc::new(Mutex::new(Vec::new()));
        let seen = deleted.clone();
        let delete = mock!(Client::delete_objects)
            .match_requests(move |req| {
                assert_eq!(req.bucket(), Some("sparkify-work"));
                assert_eq!(req.expected_bucket_owner(), Some("123456789012"));
                let keys = req
                    .delete()
                    .unwrap()
                    .objects()
                    .iter()
                    .map(|o| o.key().to_owned());
                seen.lock().unwrap().extend(keys);
                true
            })
            .then_output(|| DeleteObjectsOutput::builder().build());
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&first, &second, &delete]);
        let (answer, probed) = answered(s3, None, Ok(&bucket()), &request("Delete")).await;
        assert_eq!(probed, 0, "deleting never invokes the probe");
        assert_eq!(answer.status, Status::Success, "{}", answer.reason);
        assert_eq!(answer.reason, "deleted 3 objects from sparkify-work");
        assert_eq!(
            *deleted.lock().unwrap(),
            [
                "manifests/run-1/logs.manifest",
                "manifests/run-1/songs.manifest",
                "manifests/run-2/logs.manifest"
            ]
        );
        assert_eq!(delete.num_calls(), 2);
        // CloudFormation's own ids are echoed; the physical id is the one it gave.
        assert_eq!(
            answer.physical_resource_id,
            "EmptyManifestsOnDelete-empty-on-delete"
        );
        assert_eq!(answer.logical_resource_id, "EmptyManifestsOnDelete");
        assert_eq!(answer.request_id, "5d478078-13e9-baf0-464a-7ef285ecc786");
        assert!(answer.stack_id.ends_with("stack/sparkify-etl/1"));
    }

    #[tokio::test]
    async fn a_bucket_already_gone_is_empty() {
        let gone = mock!(Client::list_objects_v2)
            .then_error(|| ListObjectsV2Error::NoSuchBucket(NoSuchBucket::builder().build()));
        let s3 = mock_client!(aws_sdk_s3, [&gone]);
        let (answer, probed) = answered(s3, None, Ok(&bucket()), &request("Delete")).await;
        assert_eq!(probed, 0, "deleting never invokes the probe");
        assert_eq!(answer.status, Status::Success, "{}", answer.reason);
        assert_eq!(answer.reason, "deleted 0 objects from sparkify-work");
    }

    #[tokio::test]
    async fn objects_s3_will_not_delete_fail_the_deletion_by_name() {
        let listed = mock!(Client::list_objects_v2).then_output(|| {
            ListObjectsV2Output::builder()
                .contents(object("manifests/run-1/logs.manifest"))
                .build()
        });
        let refused = mock!(Client::delete_objects).then_output(|| {
            DeleteObjectsOutput::builder()
                .errors(
                    S3Error::builder()
                        .key("manifests/run-1/logs.manifest")
                        .code("AccessDenied")
                        .message("Access Denied")
                        .build(),
                )
                .build()
        });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&listed, &refused]);
        let (answer, probed) = answered(s3, None, Ok(&bucket()), &request("Delete")).await;
        assert_eq!(probed, 0, "deleting never invokes the probe");
        assert_eq!(answer.status, Status::Failed);
        assert!(
            answer.reason.starts_with("S3Rejected: "),
            "{}",
            answer.reason
        );
        assert!(answer.reason.contains("AccessDenied"), "{}", answer.reason);
    }

    #[tokio::test]
    async fn create_and_update_see_that_the_functions_start_and_touch_no_object() {
        // The warehouse function answers the probe with its own error: it started.
        let started = failed("InvalidInput", "invalid input: unknown field `probe`");
        for kind in ["Create", "Update"] {
            let s3 = mock_client!(aws_sdk_s3, []);
            let (answer, probed) =
                answered(s3, Some(started.clone()), Ok(&bucket()), &request(kind)).await;
            assert_eq!(answer.status, Status::Success, "{kind}: {}", answer.reason);
            assert_eq!(probed, 1, "{kind}");
            assert_eq!(
                answer.reason,
                "sparkify-etl-WarehouseFunction-x1 starts on arm64; sparkify-work is emptied when the stack is deleted"
            );
            assert_eq!(
                answer.physical_resource_id, "EmptyManifestsOnDelete-empty-on-delete",
                "{kind}: the id Create gives is the one later requests carry"
            );
        }
        // A function that answers the probe without an error started too.
        let s3 = mock_client!(aws_sdk_s3, []);
        let ok = InvokeOutput::builder().status_code(200).build();
        let (answer, _) = answered(s3, Some(ok), Ok(&bucket()), &request("Create")).await;
        assert_eq!(answer.status, Status::Success, "{}", answer.reason);
    }

    #[tokio::test]
    async fn functions_built_for_the_other_instruction_set_fail_the_deployment_with_the_fix() {
        // What Lambda answers for a bootstrap of the other instruction set.
        let wrong = failed(
            "Runtime.InvalidEntrypoint",
            "RequestId: 6932893d Error: fork/exec /var/task/bootstrap: exec format error",
        );
        for kind in ["Create", "Update"] {
            let s3 = mock_client!(aws_sdk_s3, []);
            let (answer, probed) =
                answered(s3, Some(wrong.clone()), Ok(&bucket()), &request(kind)).await;
            assert_eq!(answer.status, Status::Failed, "{kind}");
            assert_eq!(probed, 1);
            assert!(
                answer.reason.starts_with(
                    "ConfigError: configuration error: sparkify-etl-WarehouseFunction-x1 does not start (Runtime.InvalidEntrypoint: "
                ),
                "{}",
                answer.reason
            );
            assert!(
                answer
                    .reason
                    .contains("sam build --parameter-overrides Architecture=arm64"),
                "{}",
                answer.reason
            );
            assert!(answer.reason.len() <= MAX_REASON);
        }
        // Another failure to start is a failure too, without the architecture's advice.
        let s3 = mock_client!(aws_sdk_s3, []);
        let crashed = failed(
            "Runtime.ExitError",
            "RequestId: 1 Error: Runtime exited with error: exit status 101",
        );
        let (answer, _) = answered(s3, Some(crashed), Ok(&bucket()), &request("Create")).await;
        assert_eq!(answer.status, Status::Failed);
        assert!(
            answer.reason.ends_with("see its log group"),
            "{}",
            answer.reason
        );
    }

    #[tokio::test]
    async fn a_probe_without_its_configuration_fails_create_but_never_delete() {
        let lambda = mock_client!(aws_sdk_lambda, []);
        let err = EtlError::Config("PROBE_FUNCTION is not set".into());
        let gone = mock!(Client::list_objects_v2)
            .then_error(|| ListObjectsV2Error::NoSuchBucket(NoSuchBucket::builder().build()));
        let clients = Clients {
            s3: mock_client!(aws_sdk_s3, [&gone]),
            lambda,
        };
        let bucket = bucket();
        let setup = Setup {
            bucket: Ok(&bucket),
            probe: Err(&err),
        };
        let created = answer(&clients, &setup, &request("Create")).await;
        assert_eq!(created.status, Status::Failed);
        assert_eq!(
            created.reason,
            "ConfigError: configuration error: PROBE_FUNCTION is not set"
        );
        let deleted = answer(&clients, &setup, &request("Delete")).await;
        assert_eq!(deleted.status, Status::Success, "{}", deleted.reason);
    }

    #[tokio::test]
    async fn a_configuration_error_is_answered_as_a_failure_by_name() {
        let s3 = mock_client!(aws_sdk_s3, []);
        let err = EtlError::Config("MANIFEST_BUCKET is not set".into());
        let (answer, probed) = answered(s3, None, Err(&err), &request("Delete")).await;
        assert_eq!(probed, 0, "deleting never invokes the probe");
        assert_eq!(answer.status, Status::Failed);
        assert_eq!(
            answer.reason,
            "ConfigError: configuration error: MANIFEST_BUCKET is not set"
        );
    }

    #[test]
    fn only_an_https_response_url_is_answered_or_http_on_loopback() {
        for good in [
            "https://cloudformation-custom-resource-response-uswest2.s3.amazonaws.com/x?sig=1",
            "http://127.0.0.1:8080/answer",
            "http://localhost/answer",
        ] {
            assert!(response_uri(good).is_ok(), "{good}");
        }
        for bad in [
            "http://cloudformation-custom-resource-response-uswest2.s3.amazonaws.com/x",
            "http://169.254.169.254/latest/meta-data",
            "ftp://example.com/x",
            "not a url",
        ] {
            let err = response_uri(bad).unwrap_err();
            assert_eq!(err.name(), "InvalidInput", "{bad}");
        }
    }

    #[tokio::test]
    async fn an_event_without_a_response_url_cannot_be_answered_and_is_invalid_input() {
        let clients = Clients {
            s3: mock_client!(aws_sdk_s3, []),
            lambda: mock_client!(aws_sdk_lambda, []),
        };
        let (bucket, probe) = (bucket(), probe_config());
        let setup = Setup {
            bucket: Ok(&bucket),
            probe: Ok(&probe),
        };
        let err = run(
            &clients,
            &setup,
            serde_json::json!({"RequestType": "Delete"}),
        )
        .await
        .unwrap_err();
        assert_eq!(err.name(), "InvalidInput");
    }

    #[test]
    fn the_response_has_cloudformations_field_names() {
        let response = Response {
            status: Status::Failed,
            reason: "S3Rejected: no".into(),
            physical_resource_id: "p".into(),
            stack_id: "s".into(),
            request_id: "r".into(),
            logical_resource_id: "l".into(),
        };
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            serde_json::json!({"Status": "FAILED", "Reason": "S3Rejected: no",
                "PhysicalResourceId": "p", "StackId": "s", "RequestId": "r",
                "LogicalResourceId": "l"})
        );
    }
}
