//! The `create-tables` Lambda: see the library for what it does.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sparkify::lambda::serve(create_tables::handle).await
}
