//! The `verify-counts` Lambda: see the library for what it does.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    verify_counts::serve().await
}
