//! The `copy-staging` Lambda: see the library for what it does.

use std::sync::OnceLock;

static S3: OnceLock<aws_sdk_s3::Client> = OnceLock::new();

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sparkify::lambda::serve(|deps, input| async move {
        let s3 = S3.get_or_init(|| {
            // An endpoint of its own (a local S3) is addressed path-style: bucket names are not
            // host names there.
            let custom_endpoint = std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
            // Signed for the data bucket's region (DATA_REGION), not the function's: S3 answers
            // a request signed for another region with 301 PermanentRedirect, which the SDK does
            // not follow. The template deploys the stack in DATA_REGION, so the manifest bucket
            // is there too.
            let region =
                aws_sdk_s3::config::Region::new(deps.config.source.region.as_str().to_owned());
            let config = aws_sdk_s3::config::Builder::from(&deps.aws)
                .region(region)
                .force_path_style(custom_endpoint)
                .build();
            aws_sdk_s3::Client::from_conf(config)
        });
        // Boxed: the handler's future nests the SDK's deeply (the listing, rounds, manifests).
        Box::pin(copy_staging::handle(deps, s3, input)).await
    })
    .await
}
