//! `sparkify-warehouse status|resume|pause`: the provisioned cluster the pipeline loads into,
//! through the cluster's own API (`aws-sdk-redshift`). `status` prints its status, endpoint, node
//! type and count, and IAM roles; `resume` and `pause` ask for the move (unless the cluster is
//! there already) and wait for it, printing the status as it changes.

use clap::{Parser, Subcommand};
use sparkify::config::vars;
use sparkify::warehouse::{ClusterState, Clusters, Phase};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// sparkify-warehouse: show, resume or pause the cluster the pipeline loads into
#[derive(Debug, Parser)]
#[command(
    name = "sparkify-warehouse",
    after_help = "The AWS credentials and region come from the usual chain (AWS_PROFILE, \
                  AWS_REGION, ...); AWS_ENDPOINT_URL_REDSHIFT points it at another endpoint."
)]
struct Args {
    #[command(subcommand)]
    action: Action,
    /// The cluster
    #[arg(long, global = true, value_name = "ID", env = vars::CLUSTER_ID)]
    cluster: Option<String>,
    /// Seconds between looks while waiting
    #[arg(long, global = true, value_name = "S", default_value_t = 15)]
    every: u64,
    /// Give up waiting after this many minutes
    #[arg(long, global = true, value_name = "M", default_value_t = 30)]
    timeout: u64,
}

#[derive(Debug, Clone, Copy, Subcommand)]
enum Action {
    /// Print the cluster's status, endpoint, nodes and IAM roles
    Status,
    /// Resume a paused cluster and wait until it is available
    Resume,
    /// Pause an available cluster and wait until it is paused
    Pause,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let Some(cluster) = args.cluster.clone().filter(|c| !c.trim().is_empty()) else {
        eprintln!(
            "ConfigError: name the cluster with --cluster or {} (a Serverless workgroup starts and stops by itself)",
            vars::CLUSTER_ID
        );
        return ExitCode::from(2);
    };
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let clusters = Clusters::new(aws_sdk_redshift::Client::new(&aws));
    match run(&clusters, &cluster, &args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}: {err}", err.name());
            ExitCode::FAILURE
        }
    }
}

async fn run(clusters: &Clusters, id: &str, args: &Args) -> Result<(), sparkify::EtlError> {
    let state = clusters.describe(id).await?;
    let (wanted, phase) = match args.action {
        Action::Status => {
            print!("{}", describe(&state));
            return Ok(());
        }
        Action::Resume => ("available", Phase::Paused),
        Action::Pause => ("paused", Phase::Available),
    };
    if state.status == wanted {
        println!("{id} is {wanted} already");
        return Ok(());
    }
    if state.phase() == phase {
        let moved = match args.action {
            Action::Resume => clusters.resume(id).await?,
            _ => clusters.pause(id).await?,
        };
        println!("{id}: {} -> {}", state.status, moved.status);
    } else {
        println!("{id} is {}: waiting for it to be {wanted}", state.status);
    }
    let started = Instant::now();
    let mut last = String::new();
    loop {
        let now = clusters.describe(id).await?;
        if now.status != last {
            println!("  {:>4} s  {}", started.elapsed().as_secs(), now.status);
            last.clone_from(&now.status);
        }
        if now.status == wanted {
            print!("{}", describe(&now));
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(args.timeout * 60) {
            return Err(sparkify::EtlError::WarehouseUnavailable(format!(
                "{id} is still {} after {} minutes",
                now.status, args.timeout
            )));
        }
        tokio::time::sleep(Duration::from_secs(args.every)).await;
    }
}

fn describe(state: &ClusterState) -> String {
    let roles = if state.iam_roles.is_empty() {
        "  (none)\n".to_owned()
    } else {
        state
            .iam_roles
            .iter()
            .map(|(arn, status)| format!("  {arn} ({status})\n"))
            .collect()
    };
    format!(
        "cluster   {}\nstatus    {}\nendpoint  {}\nnodes     {} x {}\ndatabase  {}\nIAM roles\n{roles}",
        state.identifier,
        state.status,
        state.endpoint.as_deref().unwrap_or("(none)"),
        state.nodes,
        state.node_type,
        state.database,
    )
}
