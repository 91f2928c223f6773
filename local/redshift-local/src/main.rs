//! `redshift-local`: the Redshift Data API and S3 on this machine. See `--help`.

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};
use redshift_local::clusters::ClusterSpec;
use redshift_local::embedded::EmbeddedPostgres;
use redshift_local::managed::ManagedPostgres;
use redshift_local::transactions::Isolation;
use redshift_local::{DEFAULT_DATA_API_PORT, DEFAULT_S3_PORT, LocalConfig};
use std::collections::HashMap;
use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

/// Printed after the options by `--help`.
const AFTER_HELP: &str = "\
Each option can come from the environment variable named beside it instead; the option wins, and
an empty variable counts as unset.

Then point clients at it:
  AWS_ENDPOINT_URL_REDSHIFT_DATA=http://127.0.0.1:9320
  AWS_ENDPOINT_URL_S3=http://127.0.0.1:9321   (secret access key `local`)
The access key ID is the caller: `role:NAME` signs in as database user IAMR:NAME, `user:NAME` as
IAM:NAME, any other as the warehouse's admin (a superuser); DbUser and SecretArn win over it.";

/// redshift-local: a local stand-in for the Amazon Redshift Data API (and S3), on PostgreSQL
#[derive(Debug, Parser)]
#[command(
    name = "redshift-local",
    after_help = AFTER_HELP,
    next_line_help = true,
    args_override_self = true
)]
struct Args {
    /// An external PostgreSQL to run the SQL on
    ///
    /// Without it, embedded PostgreSQL 17.5 in this process, in a temp dir removed on exit; one
    /// connection, statements run in order.
    #[arg(
        long,
        value_name = "URL",
        env = "REDSHIFT_LOCAL_DATABASE_URL",
        // A URL may carry a password: help names the variable, not its value.
        hide_env_values = true,
        verbatim_doc_comment
    )]
    database_url: Option<String>,
    /// A private PostgreSQL from server binaries instead
    ///
    /// Started from the machine's server binaries (Debian's postgresql-15, or PG_BIN) in a temp
    /// dir. The variable turns it on when it is 1.
    #[arg(
        long,
        env = "REDSHIFT_LOCAL_POSTGRES_BINARIES",
        action = ArgAction::SetTrue,
        default_missing_value = "1",
        default_value = "0",
        value_parser = is_one,
        verbatim_doc_comment
    )]
    postgres_binaries: bool,
    /// Connections to an external/private server
    ///
    /// The embedded server has one.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 4,
        env = "REDSHIFT_LOCAL_CONNECTIONS",
        verbatim_doc_comment
    )]
    connections: usize,
    /// Serve DIR as S3, one sub-folder per bucket
    ///
    /// Several folders: a bucket comes from the first that has it.
    #[arg(
        long,
        value_name = "DIR[:DIR]",
        env = "REDSHIFT_LOCAL_S3_ROOT",
        verbatim_doc_comment
    )]
    s3_root: Option<OsString>,
    /// Without --s3-root: the S3 endpoint COPY reads from
    #[arg(long, value_name = "URL", env = "REDSHIFT_LOCAL_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// Address to listen on
    #[arg(
        long,
        value_name = "ADDR",
        default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST),
        env = "REDSHIFT_LOCAL_BIND"
    )]
    bind: IpAddr,
    /// Data API port
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_DATA_API_PORT,
        env = "REDSHIFT_LOCAL_DATA_API_PORT"
    )]
    data_api_port: u16,
    /// S3 port
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_S3_PORT,
        env = "REDSHIFT_LOCAL_S3_PORT"
    )]
    s3_port: u16,
    /// Statements stay STARTED at least N ms
    ///
    /// A test switch: every statement stays STARTED at least N ms.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        env = "REDSHIFT_LOCAL_MIN_STATEMENT_MS",
        verbatim_doc_comment
    )]
    min_statement_ms: u64,
    /// The warehouse's region, and every bucket's
    ///
    /// Without it, us-west-2. A bucket in another region is named with --bucket-region.
    #[arg(
        long,
        value_name = "R",
        env = "REDSHIFT_LOCAL_REGION",
        verbatim_doc_comment
    )]
    region: Option<String>,
    /// Buckets in another region
    #[arg(
        long,
        value_name = "B=R[,B=R]",
        env = "REDSHIFT_LOCAL_BUCKET_REGIONS",
        value_parser = pairs
    )]
    bucket_region: Option<HashMap<String, String>>,
    /// Secrets a SecretArn may name, and the user each signs in as
    #[arg(
        long,
        value_name = "ARN=USER[,ARN=USER]",
        env = "REDSHIFT_LOCAL_SECRETS",
        value_parser = pairs
    )]
    secret: Option<HashMap<String, String>>,
    /// Isolation for every target: serializable or snapshot
    ///
    /// Without it, serializable for a cluster and snapshot for a workgroup, as Redshift does.
    #[arg(
        long,
        value_name = "L",
        env = "REDSHIFT_LOCAL_ISOLATION",
        value_parser = isolation,
        verbatim_doc_comment
    )]
    isolation: Option<Isolation>,
    /// Serve these provisioned clusters, with their management API
    ///
    /// DescribeClusters, PauseCluster and ResumeCluster on the Data API's port
    /// (AWS_ENDPOINT_URL_REDSHIFT). Each starts available. Without it, any ClusterIdentifier is
    /// served and always available, and COPY may assume any role.
    #[arg(
        long,
        value_name = "ID[,ID]",
        env = "REDSHIFT_LOCAL_CLUSTERS",
        value_delimiter = ',',
        verbatim_doc_comment
    )]
    cluster: Vec<String>,
    /// Serve these Serverless workgroups only (names)
    ///
    /// A statement for any other workgroup is refused as AWS refuses an unknown endpoint.
    /// Without it, any workgroup is served.
    #[arg(
        long,
        value_name = "NAME[,NAME]",
        env = "REDSHIFT_LOCAL_WORKGROUPS",
        value_delimiter = ',',
        verbatim_doc_comment
    )]
    workgroup: Vec<String>,
    /// IAM roles attached to every served cluster: the only ones its COPY may assume
    #[arg(
        long,
        value_name = "ARN[,ARN]",
        env = "REDSHIFT_LOCAL_CLUSTER_ROLES",
        value_delimiter = ','
    )]
    cluster_role: Vec<String>,
    /// The databases the warehouse has
    ///
    /// A statement naming another fails ("database ... does not exist"); a served cluster
    /// was created with the first (DBName). Without it, any database name is served (one
    /// PostgreSQL database behind them all) and a cluster's DBName is dev.
    #[arg(
        long,
        value_name = "NAME[,NAME]",
        env = "REDSHIFT_LOCAL_DATABASES",
        value_delimiter = ',',
        verbatim_doc_comment
    )]
    database: Vec<String>,
    /// Seconds a served cluster takes from pausing to paused
    #[arg(
        long,
        value_name = "S",
        default_value_t = 3.0,
        env = "REDSHIFT_LOCAL_PAUSE_SECONDS"
    )]
    pause_seconds: f64,
    /// Seconds a served cluster takes from resuming to available
    #[arg(
        long,
        value_name = "S",
        default_value_t = 3.0,
        env = "REDSHIFT_LOCAL_RESUME_SECONDS"
    )]
    resume_seconds: f64,
}

impl Args {
    /// Parses `args` (the program name first) with the environment fallbacks; an empty variable
    /// counts as unset, as it did before clap (clap would hand the option an empty value).
    fn from_command_line<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut command = Self::command().mut_args(|arg| {
            let empty = arg
                .get_env()
                .and_then(std::env::var_os)
                .is_some_and(|value| value.is_empty());
            if empty { arg.env(None) } else { arg }
        });
        let matches = command.try_get_matches_from_mut(args)?;
        Self::from_arg_matches(&matches).map_err(|err| err.format(&mut command))
    }
}

/// `KEY=VALUE[,KEY=VALUE]` pairs.
fn pairs(text: &str) -> Result<HashMap<String, String>, String> {
    text.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            pair.rsplit_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                .ok_or_else(|| format!("{pair:?} is not KEY=VALUE"))
        })
        .collect()
}

/// The flag reads as its missing value, "1"; the variable as its text: the private server is on
/// only when that is 1, as before clap.
fn is_one(value: &str) -> Result<bool, std::convert::Infallible> {
    Ok(value == "1")
}

fn isolation(text: &str) -> Result<Isolation, String> {
    Isolation::parse(text).ok_or_else(|| format!("{text:?} is not serializable or snapshot"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::from_command_line(std::env::args_os()) {
        Ok(args) => args,
        Err(err) => {
            // `--help` goes to stdout and succeeds; a bad option fails with 1, as before clap.
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("redshift-local: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "redshift_local=info".into()),
        )
        .init();
    // Kept alive until exit; dropping them stops the server and removes its directory.
    let (mut managed, mut embedded) = (None, None);
    let database_url = match args.database_url {
        Some(url) => url,
        None if args.postgres_binaries => {
            let postgres = ManagedPostgres::start()?;
            let url = postgres.url();
            tracing::info!(%url, "started a private PostgreSQL");
            managed = Some(postgres);
            url
        }
        None => {
            let postgres = EmbeddedPostgres::start()?;
            let url = postgres.url().to_owned();
            embedded = Some(postgres);
            url
        }
    };
    let mut config = LocalConfig::new(database_url);
    config.data_api_addr = SocketAddr::new(args.bind, args.data_api_port);
    config.s3_addr = SocketAddr::new(args.bind, args.s3_port);
    config.connections = if embedded.is_some() {
        EmbeddedPostgres::CONNECTIONS
    } else {
        args.connections
    };
    config.s3_roots = args
        .s3_root
        .map(|roots| std::env::split_paths(&roots).collect())
        .unwrap_or_default();
    config.s3_endpoint = args.s3_endpoint;
    config.min_statement_time = std::time::Duration::from_millis(args.min_statement_ms);
    if let Some(region) = args.region {
        config.regions.default = region;
    }
    config.regions.buckets = args.bucket_region.unwrap_or_default();
    config.secrets = args.secret.unwrap_or_default();
    config.isolation = args.isolation;
    let databases: Vec<String> = args
        .database
        .iter()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect();
    config.databases = databases.clone();
    config.clusters = args
        .cluster
        .iter()
        .filter(|id| !id.trim().is_empty())
        .map(|id| ClusterSpec {
            identifier: id.trim().to_owned(),
            iam_roles: args.cluster_role.clone(),
            database: databases
                .first()
                .cloned()
                .unwrap_or_else(|| "dev".to_owned()),
            node_type: "ra3.large".to_owned(),
            nodes: 2,
        })
        .collect();
    config.workgroups = args
        .workgroup
        .iter()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect();
    config.pause_time = seconds(args.pause_seconds)?;
    config.resume_time = seconds(args.resume_seconds)?;
    let running = redshift_local::start(config).await?;
    println!("Data API: {}", running.data_api_url());
    if let Some(s3) = running.s3_url() {
        println!("S3:       {s3}");
    }
    wait_for_stop().await;
    tracing::info!("stopping");
    running.stop().await;
    drop(managed.take());
    drop(embedded.take());
    Ok(())
}

fn seconds(value: f64) -> Result<std::time::Duration, String> {
    std::time::Duration::try_from_secs_f64(value)
        .map_err(|_| format!("{value} is not a number of seconds"))
}

/// Ctrl-C or SIGTERM.
async fn wait_for_stop() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use std::sync::Mutex;

    /// Held by the tests that set variables and by those that read what the variables change.
    static ENV: Mutex<()> = Mutex::new(());

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::from_command_line(std::iter::once("redshift-local").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn the_invocations_of_the_tools_parse() {
        // tools/sparkify_local.py with the stand-in arguments of tools/tests/ (regions, secrets).
        let secret = "arn:aws:secretsmanager:us-west-2:123456789012:secret:loader-AbCdEf";
        let args = parse(&[
            "--s3-root",
            "/data:/scratch",
            "--data-api-port",
            "9400",
            "--s3-port",
            "9401",
            "--min-statement-ms",
            "50",
            "--region",
            "eu-west-1",
            "--bucket-region",
            "udacity-dend=eu-west-1, other = us-east-1",
            "--secret",
            &format!("{secret}=loader"),
            "--isolation",
            "SNAPSHOT",
            "--postgres-binaries",
        ])
        .unwrap();
        assert_eq!(args.s3_root, Some("/data:/scratch".into()));
        assert_eq!((args.data_api_port, args.s3_port), (9400, 9401));
        assert_eq!(args.min_statement_ms, 50);
        assert_eq!(args.region.as_deref(), Some("eu-west-1"));
        let buckets = args.bucket_region.unwrap();
        assert_eq!(buckets["udacity-dend"], "eu-west-1");
        assert_eq!(buckets["other"], "us-east-1");
        assert_eq!(args.secret.unwrap()[secret], "loader");
        assert_eq!(args.isolation, Some(Isolation::Snapshot));
        assert!(args.postgres_binaries);
    }

    #[test]
    fn an_unknown_option_is_refused() {
        let err = parse(&["--data-api-prot", "9400"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownArgument);
        assert!(err.to_string().contains("--data-api-port"), "{err}");
    }

    #[test]
    fn bad_values_are_refused_with_the_reason() {
        for (args, reason) in [
            (
                ["--isolation", "read-committed"],
                "\"read-committed\" is not serializable or snapshot",
            ),
            (
                ["--bucket-region", "udacity-dend"],
                "\"udacity-dend\" is not KEY=VALUE",
            ),
            (["--secret", "arn=,x=y"], "\"arn=\" is not KEY=VALUE"),
            (["--s3-port", "70000"], "70000 is not in 0..=65535"),
            (["--bind", "localhost"], "invalid IP address syntax"),
        ] {
            let err = parse(&args).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ValueValidation, "{args:?}");
            assert!(err.to_string().contains(reason), "{args:?}: {err}");
        }
    }

    #[test]
    fn a_variable_stands_in_for_its_option_and_the_option_wins() {
        let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let set = |name: &str, value: Option<&str>| match value {
            // SAFETY: std serialises its own reads and writes of the environment, and nothing in
            // these tests reads it from C; only this test sets these variables, and the tests
            // that read what they change hold `ENV`.
            Some(value) => unsafe { std::env::set_var(name, value) },
            None => unsafe { std::env::remove_var(name) },
        };
        let port = |args: &[&str]| parse(args).map(|args| args.data_api_port);
        let binaries = |args: &[&str]| parse(args).map(|args| args.postgres_binaries);

        set("REDSHIFT_LOCAL_DATA_API_PORT", Some("9500"));
        let from_variable = port(&[]);
        let from_option = port(&["--data-api-port", "9400"]);
        set("REDSHIFT_LOCAL_DATA_API_PORT", Some(""));
        let empty = port(&[]);
        set("REDSHIFT_LOCAL_DATA_API_PORT", None);
        let unset = port(&[]);

        set("REDSHIFT_LOCAL_POSTGRES_BINARIES", Some("1"));
        let binaries_1 = binaries(&[]);
        set("REDSHIFT_LOCAL_POSTGRES_BINARIES", Some("true"));
        let binaries_true = binaries(&[]);
        let binaries_flag = binaries(&["--postgres-binaries"]);
        set("REDSHIFT_LOCAL_POSTGRES_BINARIES", None);
        let binaries_unset = binaries(&[]);

        assert_eq!(from_variable.unwrap(), 9500);
        assert_eq!(from_option.unwrap(), 9400);
        assert_eq!(
            empty.unwrap(),
            DEFAULT_DATA_API_PORT,
            "an empty variable counts as unset"
        );
        assert_eq!(unset.unwrap(), DEFAULT_DATA_API_PORT);
        assert!(binaries_1.unwrap());
        assert!(
            !binaries_true.unwrap(),
            "only 1 turns the private server on, as before"
        );
        assert!(binaries_flag.unwrap());
        assert!(!binaries_unset.unwrap());
    }

    #[test]
    fn help_names_every_variable_and_how_to_reach_the_server() {
        let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for flag in ["-h", "--help"] {
            let err = parse(&[flag]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::DisplayHelp);
            assert!(!err.use_stderr(), "help goes to stdout and succeeds");
            let help = err.to_string();
            for name in [
                "REDSHIFT_LOCAL_DATABASE_URL",
                "REDSHIFT_LOCAL_POSTGRES_BINARIES",
                "REDSHIFT_LOCAL_CONNECTIONS",
                "REDSHIFT_LOCAL_S3_ROOT",
                "REDSHIFT_LOCAL_S3_ENDPOINT",
                "REDSHIFT_LOCAL_BIND",
                "REDSHIFT_LOCAL_DATA_API_PORT",
                "REDSHIFT_LOCAL_S3_PORT",
                "REDSHIFT_LOCAL_MIN_STATEMENT_MS",
                "REDSHIFT_LOCAL_REGION",
                "REDSHIFT_LOCAL_BUCKET_REGIONS",
                "REDSHIFT_LOCAL_SECRETS",
                "REDSHIFT_LOCAL_ISOLATION",
                "AWS_ENDPOINT_URL_REDSHIFT_DATA",
                "`role:NAME` signs in as database user IAMR:NAME",
            ] {
                assert!(help.contains(name), "{flag}: {name} missing from:\n{help}");
            }
        }
    }
}
