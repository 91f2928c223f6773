//! The `warehouse` Lambda: see the library for what it does.

use std::sync::OnceLock;
use warehouse::Lifecycle;

static LIFECYCLE: OnceLock<Lifecycle> = OnceLock::new();

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sparkify::lambda::serve(|deps, input| async move {
        let lifecycle = LIFECYCLE.get_or_init(|| Lifecycle::new(deps));
        warehouse::handle(deps, lifecycle, input).await
    })
    .await
}
