//! The `load-dimensions` Lambda: see the library for what it does.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sparkify::lambda::serve(load_dimensions::handle).await
}
