//! The `copy-staging` Lambda: see the library for what it does.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    copy_staging::serve().await
}
