//! `sparkify-analytics [QUERY...]`: see the library. The warehouse comes from the same variables
//! the functions read, through `Warehouse::from_env` (the help names them); the AWS credentials
//! and region from the usual chain.

use clap::Parser;
use sparkify::config::vars;
use std::process::ExitCode;

/// sparkify-analytics: runs the analysts' queries (sql/analytics/) through the Redshift Data API
#[derive(Debug, Parser)]
#[command(name = "sparkify-analytics", after_help = queries_and_warehouse())]
struct Args {
    /// The queries to run, in this order (default: every one, in catalogue order)
    #[arg(value_name = "QUERY")]
    queries: Vec<String>,
}

/// Printed after the arguments by `--help`: the queries there are, and where the warehouse comes
/// from (read by `Warehouse::from_env`, not by clap).
fn queries_and_warehouse() -> String {
    format!(
        "Queries: {queries}.\n\n\
         The warehouse comes from the variables the functions read:\n  \
         {cluster} with {user} or {secret}: a provisioned cluster\n  \
         {workgroup}, with or without {secret}: Redshift Serverless\n  \
         {database}: the database\n  \
         {wait}: optional\n\
         The AWS credentials and region come from the usual chain (AWS_PROFILE, AWS_REGION, ...).",
        queries = sparkify_analytics::names().join(", "),
        cluster = vars::CLUSTER_ID,
        user = vars::DB_USER,
        secret = vars::SECRET_ARN,
        workgroup = vars::WORKGROUP,
        database = vars::DATABASE,
        wait = vars::STATEMENT_WAIT_SECONDS,
    )
}

#[tokio::main]
async fn main() -> ExitCode {
    // A bad argument exits with 2, `--help` with 0.
    let args = Args::parse();
    let warehouse = match sparkify::config::Warehouse::from_env() {
        Ok(warehouse) => warehouse,
        Err(err) => {
            eprintln!("{}: {err}", err.name());
            return ExitCode::from(2);
        }
    };
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let api = sparkify::DataApi::new(aws_sdk_redshiftdata::Client::new(&aws), warehouse);
    match sparkify_analytics::run(&api, &args.queries).await {
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("sparkify-analytics").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn queries_are_named_in_order_and_none_means_all() {
        let args = parse(&["plays_by_hour", "most_played_songs"]).unwrap();
        assert_eq!(args.queries, ["plays_by_hour", "most_played_songs"]);
        assert!(parse(&[]).unwrap().queries.is_empty());
        // An unknown name is the library's UnknownQuery (tools/tests expect it), not clap's.
        assert_eq!(
            parse(&["no_such_query"]).unwrap().queries,
            ["no_such_query"]
        );
    }

    #[test]
    fn an_unknown_option_is_refused_with_exit_code_2() {
        for flag in ["--limit", "-x"] {
            let err = parse(&["plays_by_hour", flag]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UnknownArgument, "{flag}");
            assert_eq!(err.exit_code(), 2, "{flag}");
        }
    }

    #[test]
    fn help_lists_the_queries_and_the_warehouse_variables() {
        let err = parse(&["--help"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DisplayHelp);
        assert_eq!(err.exit_code(), 0);
        let help = err.to_string();
        let names = sparkify_analytics::names();
        assert!(!names.is_empty());
        for text in names.iter().map(String::as_str).chain([
            "REDSHIFT_CLUSTER_ID",
            "REDSHIFT_DB_USER",
            "REDSHIFT_SECRET_ARN",
            "REDSHIFT_WORKGROUP",
            "REDSHIFT_DATABASE",
        ]) {
            assert!(help.contains(text), "{text} missing from:\n{help}");
        }
    }
}
