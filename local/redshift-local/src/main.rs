//! `redshift-local`: the Redshift Data API and S3 on this machine. See `--help`.

use redshift_local::embedded::EmbeddedPostgres;
use redshift_local::managed::ManagedPostgres;
use redshift_local::{DEFAULT_DATA_API_PORT, DEFAULT_S3_PORT, LocalConfig};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

const USAGE: &str = "\
redshift-local: a local stand-in for the Amazon Redshift Data API (and S3), on PostgreSQL

usage: redshift-local [options]

  --database-url URL   an external PostgreSQL to run the SQL on  [REDSHIFT_LOCAL_DATABASE_URL]
                       (default: embedded PostgreSQL 17.5 in this process, in a temp dir
                       removed on exit; one connection, statements run in order)
  --postgres-binaries  instead, start a private PostgreSQL from the machine's server binaries
                       (Debian's postgresql-15, or PG_BIN) in a temp dir  [REDSHIFT_LOCAL_POSTGRES_BINARIES=1]
  --connections N      connections to an external or private server (default 4)
                                                              [REDSHIFT_LOCAL_CONNECTIONS]
  --s3-root DIR[:DIR]  serve DIR as S3, one sub-folder per bucket  [REDSHIFT_LOCAL_S3_ROOT]
                       (several folders: a bucket comes from the first that has it)
  --s3-endpoint URL    without --s3-root: the S3 COPY reads from   [REDSHIFT_LOCAL_S3_ENDPOINT]
  --bind ADDR          address to listen on (default 127.0.0.1)    [REDSHIFT_LOCAL_BIND]
  --data-api-port N    Data API port (default 9320)            [REDSHIFT_LOCAL_DATA_API_PORT]
  --s3-port N          S3 port (default 9321)                  [REDSHIFT_LOCAL_S3_PORT]
  --min-statement-ms N test switch: every statement stays STARTED at least N ms
                                                   [REDSHIFT_LOCAL_MIN_STATEMENT_MS]
  --region R           the warehouse's region, and every bucket's by default (us-west-2)
                                                              [REDSHIFT_LOCAL_REGION]
  --bucket-region B=R[,B=R]  buckets in another region        [REDSHIFT_LOCAL_BUCKET_REGIONS]
  --secret ARN=USER[,ARN=USER]  secrets a SecretArn may name, and the user each signs in as
                                                              [REDSHIFT_LOCAL_SECRETS]
  --isolation L        serializable or snapshot for every target (default: serializable for a
                       cluster, snapshot for a workgroup)     [REDSHIFT_LOCAL_ISOLATION]

Then point clients at it:
  AWS_ENDPOINT_URL_REDSHIFT_DATA=http://127.0.0.1:9320
  AWS_ENDPOINT_URL_S3=http://127.0.0.1:9321   (secret access key `local`)
The access key ID is the caller: `role:NAME` signs in as database user IAMR:NAME, `user:NAME` as
IAM:NAME, any other as the warehouse's admin (a superuser); DbUser and SecretArn win over it.
";

/// A setting from `--flag value`, else from the environment variable.
fn setting(args: &[String], flag: &str, var: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| std::env::var(var).ok().filter(|v| !v.is_empty()))
}

fn parsed<T: std::str::FromStr>(
    args: &[String],
    flag: &str,
    var: &str,
    default: T,
) -> Result<T, String> {
    match setting(args, flag, var) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| format!("{flag}: cannot read {text:?}")),
    }
}

/// `KEY=VALUE[,KEY=VALUE]` pairs of a setting.
fn pairs(
    args: &[String],
    flag: &str,
    var: &str,
) -> Result<std::collections::HashMap<String, String>, String> {
    setting(args, flag, var)
        .map(|text| {
            text.split(',')
                .filter(|pair| !pair.trim().is_empty())
                .map(|pair| {
                    pair.rsplit_once('=')
                        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                        .ok_or_else(|| format!("{flag}: {pair:?} is not KEY=VALUE"))
                })
                .collect()
        })
        .unwrap_or_else(|| Ok(Default::default()))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("redshift-local: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "redshift_local=info".into()),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return Ok(());
    }
    // `--postgres-binaries` takes no value; the rest are `--flag value` pairs.
    let use_binaries = args.iter().any(|a| a == "--postgres-binaries")
        || std::env::var("REDSHIFT_LOCAL_POSTGRES_BINARIES").is_ok_and(|v| v == "1");
    let args: Vec<String> = args
        .into_iter()
        .filter(|a| a != "--postgres-binaries")
        .collect();
    let known = [
        "--database-url",
        "--connections",
        "--s3-root",
        "--s3-endpoint",
        "--bind",
        "--data-api-port",
        "--s3-port",
        "--min-statement-ms",
        "--region",
        "--bucket-region",
        "--secret",
        "--isolation",
    ];
    if let Some(unknown) = args
        .iter()
        .step_by(2)
        .find(|a| !known.contains(&a.as_str()))
    {
        return Err(format!("unknown option {unknown}\n\n{USAGE}"));
    }
    let bind: IpAddr = parsed(
        &args,
        "--bind",
        "REDSHIFT_LOCAL_BIND",
        IpAddr::V4(Ipv4Addr::LOCALHOST),
    )?;
    // Kept alive until exit; dropping them stops the server and removes its directory.
    let (mut managed, mut embedded) = (None, None);
    let mut connections = 4;
    let database_url = match setting(&args, "--database-url", "REDSHIFT_LOCAL_DATABASE_URL") {
        Some(url) => url,
        None if use_binaries => {
            let postgres = ManagedPostgres::start()?;
            let url = postgres.url();
            tracing::info!(%url, "started a private PostgreSQL");
            managed = Some(postgres);
            url
        }
        None => {
            let postgres = EmbeddedPostgres::start()?;
            let url = postgres.url().to_owned();
            connections = EmbeddedPostgres::CONNECTIONS;
            embedded = Some(postgres);
            url
        }
    };
    let mut config = LocalConfig::new(database_url);
    config.data_api_addr = SocketAddr::new(
        bind,
        parsed(
            &args,
            "--data-api-port",
            "REDSHIFT_LOCAL_DATA_API_PORT",
            DEFAULT_DATA_API_PORT,
        )?,
    );
    config.s3_addr = SocketAddr::new(
        bind,
        parsed(
            &args,
            "--s3-port",
            "REDSHIFT_LOCAL_S3_PORT",
            DEFAULT_S3_PORT,
        )?,
    );
    config.connections = if embedded.is_some() {
        connections
    } else {
        parsed(
            &args,
            "--connections",
            "REDSHIFT_LOCAL_CONNECTIONS",
            connections,
        )?
    };
    config.s3_roots = setting(&args, "--s3-root", "REDSHIFT_LOCAL_S3_ROOT")
        .map(|roots| std::env::split_paths(&roots).collect())
        .unwrap_or_default();
    config.s3_endpoint = setting(&args, "--s3-endpoint", "REDSHIFT_LOCAL_S3_ENDPOINT");
    config.min_statement_time = std::time::Duration::from_millis(parsed(
        &args,
        "--min-statement-ms",
        "REDSHIFT_LOCAL_MIN_STATEMENT_MS",
        0,
    )?);
    if let Some(region) = setting(&args, "--region", "REDSHIFT_LOCAL_REGION") {
        config.regions.default = region;
    }
    config.regions.buckets = pairs(&args, "--bucket-region", "REDSHIFT_LOCAL_BUCKET_REGIONS")?;
    config.secrets = pairs(&args, "--secret", "REDSHIFT_LOCAL_SECRETS")?;
    config.isolation = setting(&args, "--isolation", "REDSHIFT_LOCAL_ISOLATION")
        .map(|text| {
            redshift_local::transactions::Isolation::parse(&text)
                .ok_or_else(|| format!("--isolation: {text:?} is not serializable or snapshot"))
        })
        .transpose()?;
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

/// Ctrl-C or SIGTERM.
async fn wait_for_stop() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
