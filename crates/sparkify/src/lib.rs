//! The shared core of the five Sparkify ETL Lambdas: configuration, the named errors, the SQL
//! catalogue, running statements through the Redshift Data API, and the step protocol the state
//! machine drives.

pub mod config;
pub mod data_api;
pub mod error;
pub mod lambda;
pub mod metrics;
pub mod sql;
pub mod step;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod trigger;
pub mod warehouse;

pub use config::Config;
pub use data_api::DataApi;
pub use error::EtlError;
pub use lambda::Deps;
pub use step::{Moved, StepInput, StepOutput};
