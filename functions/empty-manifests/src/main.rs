//! The `empty-manifests` Lambda: see the library for what it does.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // A configuration error is reported to CloudFormation on every request, not a crash at init.
    let bucket = sparkify::config::manifest_bucket_from_env();
    let probe = empty_manifests::Probe::from_env();
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // An endpoint of its own (a local S3) is addressed path-style.
    let custom_endpoint = std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let clients = empty_manifests::Clients {
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&aws)
                .force_path_style(custom_endpoint)
                .build(),
        ),
        lambda: aws_sdk_lambda::Client::new(&aws),
    };
    let setup = empty_manifests::Setup {
        bucket: bucket.as_ref(),
        probe: probe.as_ref(),
    };
    let (clients, setup) = (&clients, &setup);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        empty_manifests::run(clients, setup, event.payload).await
    }))
    .await
}
