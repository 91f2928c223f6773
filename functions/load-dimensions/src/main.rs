//! The `load-dimensions` Lambda: see the library for what it does.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    load_dimensions::serve().await
}
