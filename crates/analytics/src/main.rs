//! `sparkify-analytics [QUERY...]`: see the library. The warehouse comes from the same variables
//! the functions read (`REDSHIFT_CLUSTER_ID` + `REDSHIFT_DB_USER` or `REDSHIFT_SECRET_ARN`, or
//! `REDSHIFT_WORKGROUP`; `REDSHIFT_DATABASE`), the AWS credentials and region from the usual chain.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let names: Vec<String> = std::env::args().skip(1).collect();
    if names.iter().any(|arg| arg.starts_with('-')) {
        eprintln!(
            "usage: sparkify-analytics [QUERY...]   (queries: {})",
            sparkify_analytics::names().join(", ")
        );
        return ExitCode::from(2);
    }
    let warehouse = match sparkify::config::Warehouse::from_env() {
        Ok(warehouse) => warehouse,
        Err(err) => {
            eprintln!("{}: {err}", err.name());
            return ExitCode::from(2);
        }
    };
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let api = sparkify::DataApi::new(aws_sdk_redshiftdata::Client::new(&aws), warehouse);
    match sparkify_analytics::run(&api, &names).await {
        Ok(reports) => {
            for report in reports {
                println!("{report}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{}: {err}", err.name());
            ExitCode::FAILURE
        }
    }
}
