//! What every function's `main` does: tracing, configuration and the SDK client once at init, then
//! the runtime loop with the handler. Input is parsed here so a malformed event is `InvalidInput`,
//! and a configuration error is reported by name on every invocation instead of crashing init.

use crate::config::Config;
use crate::data_api::DataApi;
use crate::error::EtlError;
use lambda_runtime::{LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::future::Future;

/// What a handler needs, built once per process.
#[derive(Debug, Clone)]
pub struct Deps {
    pub config: Config,
    pub data_api: DataApi,
    /// The shared AWS configuration, for a function that needs another client.
    pub aws: aws_config::SdkConfig,
}

/// Runs `handler` as a Lambda function until the runtime stops it.
pub async fn serve<I, O, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    I: DeserializeOwned,
    O: Serialize,
    F: Fn(&'static Deps, I) -> Fut,
    Fut: Future<Output = Result<O, EtlError>>,
{
    lambda_runtime::tracing::init_default_subscriber();
    let deps: Result<&'static Deps, EtlError> = match Config::from_env() {
        Ok(config) => {
            let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let client = aws_sdk_redshiftdata::Client::new(&aws);
            let data_api = DataApi::new(client, config.warehouse.clone());
            // One per process, alive as long as the process: leaking it is the simplest 'static.
            Ok(Box::leak(Box::new(Deps {
                config,
                data_api,
                aws,
            })))
        }
        Err(err) => {
            tracing::error!(error = err.name(), message = %err, "configuration rejected at init");
            Err(err)
        }
    };
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let deps = deps.clone();
        async move {
            let deps = deps?;
            let input = parse_input::<I>(event.payload)?;
            // Boxed: a handler's future nests the SDK's deeply, and the binary's `main` holds
            // this one within the runtime's and its crate's `serve()`; unboxed, computing its
            // layout passed the compiler's query depth limit (seen in a fresh clone's build).
            Box::pin(handler(deps, input)).await
        }
    }))
    .await
}

/// Parses an invocation payload into the handler's input type.
pub fn parse_input<I: DeserializeOwned>(payload: Value) -> Result<I, EtlError> {
    serde_json::from_value(payload).map_err(|err| EtlError::InvalidInput(err.to_string()))
}
