//! The stack's Lambda bootstrap: the function its Handler setting names (see the library).

use bootstrap::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    Function::from_handler(std::env::var("_HANDLER").ok().as_deref())?
        .serve()
        .await
}
