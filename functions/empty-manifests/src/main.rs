//! The `empty-manifests` Lambda: see the library for what it does.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    empty_manifests::serve().await
}
