//! The five functions' handlers (and the stack's teardown helper), through the real `aws-sdk-redshiftdata` and `aws-sdk-s3` clients
//! over HTTP, against the local Data API and S3 stand-ins on a real PostgreSQL: the whole
//! pipeline, step by step, polling each statement as the state machine does.

use redshift_local::managed::ManagedPostgres;
use redshift_local::{LocalConfig, Running};
use sparkify::config::Readers;
use sparkify::sql::DbRole;
use sparkify::{DataApi, Deps, EtlError, StepInput, StepOutput};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The folder holding the Sparkify data set laid out as its bucket: SPARKIFY_DATA (`./dev test`
/// sets it from DATA), else ../shared/data beside the repository. Missing data fails the test.
fn shared_data() -> PathBuf {
    let root = std::env::var_os("SPARKIFY_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("../../shared/data"));
    assert!(
        root.join("udacity-dend/log_json_path.json").is_file(),
        "the Sparkify data set is missing at {}: it is required, not optional",
        root.display()
    );
    root
}

struct Pipeline {
    _postgres: ManagedPostgres,
    local: Running,
    scratch: Scratch,
    deps: Deps,
    s3: aws_sdk_s3::Client,
    /// The Data API client the functions' DataApi wraps.
    client: aws_sdk_redshiftdata::Client,
}

/// A folder holding the (empty) manifest bucket, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(bucket: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "sparkify-e2e-{}-{}",
            std::process::id(),
            uuid_like()
        ));
        std::fs::create_dir_all(dir.join(bucket)).expect("scratch bucket folder");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

async fn pipeline(s3_root: PathBuf) -> Pipeline {
    // The stand-in's timings (COPY reads, statement failures) show with --nocapture.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("redshift_local=info")
        .with_test_writer()
        .try_init();
    let postgres = ManagedPostgres::start().expect("PostgreSQL starts");
    let mut config = LocalConfig::new(postgres.url());
    config.data_api_addr = SocketAddr::from(([127, 0, 0, 1], 0));
    config.s3_addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let config_for_test = sparkify::testing::config();
    let scratch = Scratch::new(config_for_test.source.manifest_bucket.as_str());
    config.s3_roots = vec![s3_root, scratch.0.clone()];
    let local = redshift_local::start(config)
        .await
        .expect("stand-in starts");
    let sdk = aws_sdk_redshiftdata::Config::builder()
        .behavior_version(aws_sdk_redshiftdata::config::BehaviorVersion::latest())
        .region(aws_sdk_redshiftdata::config::Region::new("us-west-2"))
        .credentials_provider(aws_sdk_redshiftdata::config::Credentials::new(
            "l", "l", None, None, "t",
        ))
        .endpoint_url(local.data_api_url())
        .build();
    // The test configuration: a cluster target and the Sparkify bucket, as the stand-in serves it.
    let config = sparkify::testing::config();
    let client = aws_sdk_redshiftdata::Client::from_conf(sdk);
    let data_api = DataApi::new(client.clone(), config.warehouse.clone());
    let s3 = redshift_local::s3::client(&format!("http://{}", local.s3_addr.expect("S3 served")));
    Pipeline {
        _postgres: postgres,
        local,
        client,
        scratch,
        deps: Deps {
            config,
            data_api,
            aws: aws_config::SdkConfig::builder().build(),
        },
        s3,
    }
}

/// Calls a step the way the state machine does: once to submit, then with what the last call
/// returned until it is done. Returns the last output.
async fn drive<I, O, Fut>(
    input: impl Fn(Option<&O>) -> I,
    handler: impl Fn(I) -> Fut,
    step_of: impl Fn(&O) -> &StepOutput,
) -> Result<O, EtlError>
where
    Fut: Future<Output = Result<O, EtlError>>,
{
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut output = handler(input(None)).await?;
    while !step_of(&output).done {
        assert!(Instant::now() < deadline, "step did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
        output = handler(input(Some(&output))).await?;
    }
    Ok(output)
}

fn step_input<O>(
    execution: &str,
    step_of: impl Fn(&O) -> &StepOutput,
) -> impl Fn(Option<&O>) -> StepInput {
    move |previous| StepInput {
        execution: execution.to_owned(),
        statement_id: previous.map(|o| step_of(o).statement_id.clone()),
        attempt: 0,
    }
}

fn same(output: &StepOutput) -> &StepOutput {
    output
}

/// create-tables as ListRunning calls it: `running` still runs, everything else is reaped.
async fn create_tables_reaping(
    pipeline: &Pipeline,
    execution: &str,
    running: &[&str],
) -> Result<StepOutput, EtlError> {
    // Its own start: later than every staging row of this test.
    let started = "2030-01-01T00:00:00Z".to_owned();
    drive(
        |previous| create_tables::Input {
            step: step_input(execution, same)(previous),
            reset: false,
            running: Some(running.iter().map(|r| (*r).to_owned()).collect()),
            started: Some(started.clone()),
        },
        |i| create_tables::handle(&pipeline.deps, i),
        same,
    )
    .await
}

/// Runs copy-staging, load-facts, load-dimensions and verify-counts for one execution.
async fn run_from_copy(
    pipeline: &Pipeline,
    execution: &str,
    trigger: serde_json::Value,
) -> Result<verify_counts::Report, EtlError> {
    let deps = &pipeline.deps;
    let plain = || step_input(execution, same);
    let copied = drive(
        |previous| copy_input(execution, &trigger, previous),
        |i| copy_staging::handle(deps, &pipeline.s3, i),
        |o| &o.step,
    )
    .await?;
    println!("copy-staging moved: {:?}", copied.step.moved);
    drive(plain(), |i| load_facts::handle(deps, i), same).await?;
    drive(plain(), |i| load_dimensions::handle(deps, i), same).await?;
    // By hand there is no execution start: every recorded load error of the run's objects.
    verify(pipeline, execution, Some(trigger)).await
}

/// copy-staging's input as the state machine writes it after `previous` (none: the first call).
fn copy_input(
    execution: &str,
    trigger: &serde_json::Value,
    previous: Option<&copy_staging::Output>,
) -> copy_staging::Input {
    copy_staging::Input {
        step: StepInput {
            execution: execution.to_owned(),
            statement_id: previous.map(|o| o.step.statement_id.clone()),
            attempt: 0,
        },
        trigger: trigger.clone(),
        started: None,
        phase: previous.map(|o| o.phase),
        round: previous.map_or(0, |o| o.round),
        more: previous.is_some_and(|o| o.more),
        staged: previous.map(|o| o.staged.clone()).unwrap_or_default(),
        round_objects: previous
            .map(|o| o.round_objects.clone())
            .unwrap_or_default(),
        carried: previous.map(|o| o.carried.clone()).unwrap_or_default(),
    }
}

async fn verify(
    pipeline: &Pipeline,
    execution: &str,
    trigger: Option<serde_json::Value>,
) -> Result<verify_counts::Report, EtlError> {
    let verify_step = step_input(execution, |o: &verify_counts::Output| &o.step);
    let verified = drive(
        |previous| verify_counts::Input {
            step: verify_step(previous),
            started: None,
            finished: Default::default(),
            trigger: trigger.clone(),
        },
        |i| verify_counts::handle(&pipeline.deps, i),
        |o: &verify_counts::Output| &o.step,
    )
    .await?;
    Ok(verified.report.expect("a report once done"))
}

/// Waits until a batch named `name` is running its sub-statement `n`.
async fn running_sub_statement(pipeline: &Pipeline, name: &str, n: usize) {
    use aws_sdk_redshiftdata::types::{StatementStatusString, StatusString};
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = pipeline
            .client
            .list_statements()
            .statement_name(name)
            .status(StatusString::Started)
            .send()
            .await
            .unwrap();
        for statement in listed.statements() {
            let id = statement.id();
            let described = pipeline
                .client
                .describe_statement()
                .id(id)
                .send()
                .await
                .unwrap();
            if described
                .sub_statements()
                .get(n - 1)
                .and_then(|sub| sub.status())
                == Some(&StatementStatusString::Started)
            {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{name} never reached {n}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs the five steps for one execution; returns the verification report.
async fn run_all(
    pipeline: &Pipeline,
    execution: &str,
    trigger: serde_json::Value,
) -> Result<verify_counts::Report, EtlError> {
    drive(
        |previous| create_tables::Input {
            step: step_input(execution, same)(previous),
            reset: false,
            // By hand nobody lists the running executions: nothing is cleaned up.
            running: None,
            started: None,
        },
        |i| create_tables::handle(&pipeline.deps, i),
        same,
    )
    .await?;
    run_from_copy(pipeline, execution, trigger).await
}

fn counts(report: &verify_counts::Report) -> Vec<(String, i64)> {
    report
        .counts
        .iter()
        .map(|c| (c.table.clone(), c.rows))
        .collect()
}

fn expected(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
    pairs.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
}

/// The project's own miniature bucket (see tests/fixtures/sparkify-mini/README.md).
fn fixtures() -> PathBuf {
    manifest_dir().join("fixtures/sparkify-mini")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_project_fixtures_load_with_their_hand_derived_counts() {
    let pipeline = pipeline(fixtures()).await;
    let report = run_all(&pipeline, "mini-1", serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(
        counts(&report),
        expected(&[
            ("staging_events", 9),
            ("staging_songs", 4),
            ("songplays", 5),
            ("users", 3),
            ("songs", 4),
            ("artists", 3),
            ("time", 5),
        ])
    );
    assert!(report.passed, "{:?}", report.checks);

    // The analysts' queries through the same Data API agree with the counts: every play is in
    // one level and one hour, and with 4 songs every played song is in the top ten.
    let reports = sparkify_analytics::run(&pipeline.deps.data_api, &[])
        .await
        .unwrap();
    let names: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, sparkify_analytics::names());
    let plays = |name: &str| -> i64 {
        let report = reports.iter().find(|r| r.name == name).unwrap();
        let column = report.columns.iter().position(|c| c == "plays").unwrap();
        report
            .rows
            .iter()
            .map(|row| row[column].parse::<i64>().unwrap())
            .sum()
    };
    for name in ["free_vs_paid", "plays_by_hour", "most_played_songs"] {
        assert_eq!(plays(name), 5, "{name}");
    }

    // The first run found no tables: its guard failed and the batch that creates them went. A
    // later run's guard passes: its batch locks first and creates nothing.
    create_tables_reaping(&pipeline, "mini-2", &["mini-2"])
        .await
        .unwrap();
    let named = |name: &'static str| {
        let client = pipeline.client.clone();
        async move {
            let listed = client
                .list_statements()
                .statement_name(name)
                .send()
                .await
                .unwrap();
            listed
                .statements()
                .iter()
                .filter(|s| s.statement_name() == Some(name))
                .map(|s| s.status().map(|status| status.as_str().to_owned()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        named("sparkify-create-tables-creating").await,
        [Some("FINISHED".to_owned())]
    );
    let guarded = named("sparkify-create-tables").await;
    assert_eq!(guarded.len(), 2, "{guarded:?}");
    assert!(
        guarded.contains(&Some("FINISHED".to_owned())),
        "{guarded:?}"
    );
    assert!(guarded.contains(&Some("FAILED".to_owned())), "{guarded:?}");
}

/// A Data API client of the stand-in that signs in as `access_key`'s identity: `user:NAME` is the
/// IAM user NAME (database user `IAM:NAME`), anything that is not `role:` or `user:` the admin.
fn client_as(pipeline: &Pipeline, access_key: &str) -> aws_sdk_redshiftdata::Client {
    let sdk = aws_sdk_redshiftdata::Config::builder()
        .behavior_version(aws_sdk_redshiftdata::config::BehaviorVersion::latest())
        .region(aws_sdk_redshiftdata::config::Region::new("us-west-2"))
        .credentials_provider(aws_sdk_redshiftdata::config::Credentials::new(
            access_key, "l", None, None, "t",
        ))
        .endpoint_url(pipeline.local.data_api_url())
        .build();
    aws_sdk_redshiftdata::Client::from_conf(sdk)
}

/// One statement on the test cluster as the client's own identity (no DbUser), as a person runs
/// it: its rows as text, or Redshift's error.
async fn sql_as(
    client: &aws_sdk_redshiftdata::Client,
    sql: &str,
) -> Result<Vec<Vec<String>>, String> {
    use aws_sdk_redshiftdata::types::{Field, StatusString};
    let id = client
        .execute_statement()
        .cluster_identifier("sparkify")
        .database("dev")
        .sql(sql)
        .send()
        .await
        .map_err(|err| format!("{err:?}"))?
        .id()
        .expect("ExecuteStatement answers with an id")
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let described = client.describe_statement().id(&id).send().await.unwrap();
        match described.status() {
            Some(StatusString::Finished) if described.has_result_set() == Some(true) => {
                let result = client.get_statement_result().id(&id).send().await.unwrap();
                return Ok(result
                    .records()
                    .iter()
                    .map(|row| {
                        row.iter()
                            .map(|field| match field {
                                Field::LongValue(n) => n.to_string(),
                                Field::StringValue(s) => s.clone(),
                                other => format!("{other:?}"),
                            })
                            .collect()
                    })
                    .collect());
            }
            Some(StatusString::Finished) => return Ok(Vec::new()),
            Some(StatusString::Failed | StatusString::Aborted) => {
                return Err(described.error().unwrap_or_default().to_owned());
            }
            _ => {}
        }
        assert!(Instant::now() < deadline, "{sql} did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// People read the tables through the database roles create-tables grants (docs/deploy.md,
/// Readers): a fresh analyst identity is refused every table, a role a superuser gave it holds
/// nothing until a run grants it, then the analyst reads every star table and nothing else, and
/// writes nothing; an operator reads every table and may delete a quarantine row, nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_read_the_tables_through_the_roles_create_tables_grants_and_write_nothing() {
    let mut pipeline = pipeline(fixtures()).await;
    let report = run_all(&pipeline, "readers-1", serde_json::json!({}))
        .await
        .unwrap();
    let star = ["songplays", "users", "songs", "artists", "time"];
    let (admin, ana, ops) = (
        client_as(&pipeline, "admin"),
        client_as(&pipeline, "user:ana"),
        client_as(&pipeline, "user:ops"),
    );
    let count = |table: &str| format!("SELECT COUNT(*) FROM {table}");
    let denied = |result: Result<Vec<Vec<String>>, String>, what: &str| {
        let error = result.expect_err(what);
        assert!(error.contains("permission denied"), "{what}: {error}");
    };
    // A fresh identity (its first sign-in creates its user) may read nothing.
    for table in star {
        denied(sql_as(&ana, &count(table)).await, table);
    }
    sql_as(&ops, "SELECT 1").await.unwrap();
    // A superuser's one-time setup.
    for sql in [
        "CREATE ROLE sparkify_reader",
        "CREATE ROLE sparkify_operator",
        "GRANT ROLE sparkify_reader TO \"IAM:ana\"",
        "GRANT ROLE sparkify_operator TO \"IAM:ops\"",
        "ALTER USER \"IAM:ops\" SYSLOG ACCESS UNRESTRICTED",
    ] {
        sql_as(&admin, sql).await.unwrap();
    }
    // The role holds nothing until create-tables grants it.
    denied(sql_as(&ana, &count("songplays")).await, "before the grant");
    pipeline.deps.config.readers = Readers {
        analysts: Some(DbRole::parse("sparkify_reader").unwrap()),
        operators: Some(DbRole::parse("sparkify_operator").unwrap()),
    };
    run_all(&pipeline, "readers-2", serde_json::json!({}))
        .await
        .unwrap();
    for table in star {
        let rows = sql_as(&ana, &count(table)).await.unwrap();
        let loaded = report
            .counts
            .iter()
            .find(|c| c.table == table)
            .unwrap()
            .rows;
        assert_eq!(rows, [[loaded.to_string()]], "{table}");
    }
    denied(
        sql_as(&ana, &count("load_ledger")).await,
        "the ledger is not the analysts'",
    );
    for write in [
        "INSERT INTO time SELECT * FROM time",
        "DELETE FROM users",
        "UPDATE songs SET year = 0",
    ] {
        denied(sql_as(&ana, write).await, write);
    }
    for table in [
        "load_ledger",
        "load_quarantine",
        "staging_events",
        "songplays",
    ] {
        sql_as(&ops, &count(table)).await.unwrap();
    }
    sql_as(
        &ops,
        "DELETE FROM load_quarantine WHERE object_key = 'none'",
    )
    .await
    .unwrap();
    denied(
        sql_as(&ops, "DELETE FROM songplays").await,
        "the operators' one write is the quarantine",
    );
    // Unrestricted SYSLOG ACCESS: the operator sees the pipeline's load errors, as the admin does.
    assert_eq!(
        sql_as(&ops, &count("sys_load_error_detail")).await.unwrap(),
        sql_as(&admin, &count("sys_load_error_detail"))
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_sparkify_data_set_loads_with_the_measured_counts_and_every_check_passing() {
    let pipeline = pipeline(shared_data()).await;
    let started = Instant::now();
    let report = run_all(&pipeline, "full-1", serde_json::json!({}))
        .await
        .unwrap();
    println!("full data set: {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(
        counts(&report),
        expected(&[
            ("staging_events", 8056),
            ("staging_songs", 14896),
            ("songplays", 333),
            ("users", 96),
            ("songs", 14896),
            ("artists", 9553),
            ("time", 333),
        ])
    );
    assert!(report.passed, "{:?}", report.checks);
    assert!(report.checks.len() >= 14);

    // A second run finds every object in the ledger: it stages nothing and changes nothing.
    let again = run_all(&pipeline, "full-2", serde_json::json!({}))
        .await
        .unwrap();
    let mut unchanged = counts(&report);
    unchanged[0].1 = 0;
    assert_eq!(counts(&again), unchanged);
}

/// Every file under `dir`.
fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    found
}

/// The PUTs a response URL received: each one's content type and body.
type Received = Arc<Mutex<Vec<(Option<String>, String)>>>;

/// A stand-in for CloudFormation's presigned response URL: records each PUT and answers
/// `/refuse` with 403 as S3 answers an expired signature.
async fn response_url_server() -> (SocketAddr, Received) {
    use axum::http::{HeaderMap, StatusCode};
    let received = Received::default();
    let record = |received: Received, answer: StatusCode| {
        move |headers: HeaderMap, body: String| async move {
            let content_type = headers
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            received.lock().unwrap().push((content_type, body));
            answer
        }
    };
    let app = axum::Router::new()
        .route(
            "/response",
            axum::routing::put(record(received.clone(), StatusCode::OK)),
        )
        .route(
            "/refuse",
            axum::routing::put(record(received.clone(), StatusCode::FORBIDDEN)),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_stack_empties_the_manifest_bucket_the_runs_filled_and_answers_cloudformation()
{
    let pipeline = pipeline(fixtures()).await;
    run_all(&pipeline, "mini-teardown", serde_json::json!({}))
        .await
        .unwrap();
    let bucket = sparkify::config::ManifestBucket {
        name: pipeline.deps.config.source.manifest_bucket.clone(),
        owner: pipeline.deps.config.source.manifest_bucket_owner.clone(),
    };
    let manifests = pipeline.scratch.0.join(bucket.name.as_str());
    let written = files_under(&manifests).len();
    assert!(written > 0, "the run wrote its manifests");
    let data_before = files_under(&fixtures());

    let (addr, received) = response_url_server().await;
    let request = |url: &str| {
        serde_json::json!({
            "RequestType": "Delete",
            "ResponseURL": url,
            "StackId": "arn:aws:cloudformation:us-west-2:123456789012:stack/sparkify-etl/1",
            "RequestId": "r-1",
            "ResourceType": "Custom::EmptyManifests",
            "LogicalResourceId": "EmptyManifestsOnDelete",
            "PhysicalResourceId": "EmptyManifestsOnDelete-empty-on-delete",
            // A bucket in the request is not what gets emptied: the configured one is.
            "ResourceProperties": {"ServiceToken": "arn", "Bucket": "udacity-dend"}
        })
    };
    let url = format!("http://{addr}/response?X-Amz-Signature=0f1e");
    // Deleting never invokes the probe (a Create's, tools/tests/test_deploy_architecture.py): a
    // client to nowhere.
    let clients = empty_manifests::Clients {
        s3: pipeline.s3.clone(),
        lambda: aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::Config::builder()
                .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
                .region(aws_sdk_lambda::config::Region::new("us-west-2"))
                .endpoint_url("http://127.0.0.1:9")
                .build(),
        ),
    };
    let not_probed = EtlError::Config("no probe in this test".into());
    let setup = empty_manifests::Setup {
        bucket: Ok(&bucket),
        probe: Err(&not_probed),
    };
    let answered = empty_manifests::run(&clients, &setup, request(&url))
        .await
        .unwrap();
    assert_eq!(answered.status, empty_manifests::Status::Success);
    assert_eq!(
        answered.reason,
        format!("deleted {written} objects from {}", bucket.name.as_str())
    );
    assert_eq!(files_under(&manifests), Vec::<PathBuf>::new());
    assert_eq!(files_under(&fixtures()), data_before);
    {
        let received = received.lock().unwrap();
        let [(content_type, body)] = received.as_slice() else {
            panic!("one answer: {received:?}")
        };
        assert_eq!(
            *content_type, None,
            "the URL is signed without a content type"
        );
        let body: empty_manifests::Response = serde_json::from_str(body).unwrap();
        assert_eq!(body, answered);
    }

    // Delivered again (Lambda retries an asynchronous invocation): nothing left, still success.
    let again = empty_manifests::run(&clients, &setup, request(&url))
        .await
        .unwrap();
    assert_eq!(
        again.reason,
        format!("deleted 0 objects from {}", bucket.name.as_str())
    );

    // An answer S3 refuses is the function's error, so Lambda tries the invocation again.
    let refused = format!("http://{addr}/refuse");
    let err = empty_manifests::run(&clients, &setup, request(&refused))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "S3Rejected", "{err}");
}

/// This package's folder, read when the test runs (cargo sets it for every test process): a test
/// binary reused from a build in another checkout keeps that checkout's path in
/// `env!("CARGO_MANIFEST_DIR")`, and would read the other checkout's files.
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR")
            .expect("tests are run by cargo, which sets CARGO_MANIFEST_DIR"),
    )
}

/// One lock order: a copy round holding its locks part way while another execution's
/// create-tables reaps staging rows and a third's verify-counts clears its own. On Redshift's
/// table locks, batches that took staging_files and staging_events in opposite orders deadlocked
/// here (the round wrote staging_files then staging_events; the reap and the clear deleted
/// staging_events then staging_files); every batch now locks what it touches first, in one order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_copy_round_interleaved_with_a_reap_and_a_clear_ends_with_exact_totals() {
    let pipeline = pipeline(fixtures()).await;
    let first = run_all(&pipeline, "first", serde_json::json!({}))
        .await
        .unwrap();
    // The backfill's round stops for 3 s after its COPY into staging_files (sub-statement 2),
    // holding what it locked.
    pipeline
        .local
        .faults
        .arm(redshift_local::faults::Fault::Pause {
            statement_name: "sparkify-copy-staging".into(),
            sub_statement: 3,
            millis: 3000,
            times: 1,
        });
    let backfill = serde_json::json!({"backfill": {"from": "2018-11-01", "to": "2018-11-02"}});
    let (reloaded, reaped, cleared) = tokio::join!(
        run_from_copy(&pipeline, "backfill", backfill),
        async {
            running_sub_statement(&pipeline, "sparkify-copy-staging", 3).await;
            create_tables_reaping(&pipeline, "reaper", &["reaper", "backfill"]).await
        },
        async {
            running_sub_statement(&pipeline, "sparkify-copy-staging", 3).await;
            verify(&pipeline, "clearer", None).await
        },
    );
    reaped.unwrap();
    assert!(cleared.unwrap().passed);
    let reloaded = reloaded.unwrap();
    assert!(reloaded.passed, "{:?}", reloaded.checks);
    // The backfill staged the fixtures' 9 events again; the star schema is as the first run left it.
    assert_eq!(counts(&reloaded), counts(&first));
}

/// Every call of copy-staging retried a second later (what Lambda and Step Functions do with a
/// call whose answer is lost) sends the batch it sent before under the same client token, so the
/// Data API answers with the statement it already started; the stand-in refuses a token reused
/// with other SQL. The bucket holds a log object that fails COPY, so the quarantine batch is
/// retried too, and the listing's record and every round are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_copy_staging_call_sends_the_same_sql_under_its_client_token() {
    let bucket = Scratch::new("copy");
    for file in files_under(&fixtures()) {
        let to = bucket.0.join(file.strip_prefix(fixtures()).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&file, to).unwrap();
    }
    let junk = bucket
        .0
        .join("udacity-dend/log_data/2018/11/2018-11-03-junk.json");
    std::fs::write(&junk, "{not json\n".repeat(10)).unwrap();
    let pipeline = pipeline(bucket.0.clone()).await;
    drive(
        |previous| create_tables::Input {
            step: step_input("retried", same)(previous),
            reset: false,
            running: Some(vec!["retried".into()]),
            started: None,
        },
        |i| create_tables::handle(&pipeline.deps, i),
        same,
    )
    .await
    .unwrap();
    let trigger = serde_json::json!({});
    let mut previous: Option<copy_staging::Output> = None;
    let mut submitted = std::collections::BTreeSet::new();
    let mut phases = std::collections::BTreeSet::new();
    for _ in 0..400 {
        let input = || copy_input("retried", &trigger, previous.as_ref());
        let first = copy_staging::handle(&pipeline.deps, &pipeline.s3, input())
            .await
            .unwrap();
        // GETDATE() and the listing's times are whole seconds: a second later, any time written
        // into the SQL would differ.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let again = copy_staging::handle(&pipeline.deps, &pipeline.s3, input())
            .await
            .unwrap_or_else(|err| panic!("the retry of a {:?} call: {err}", first.phase));
        // The retry answers with the statement the call answered with, unless that statement
        // was still running when the call returned (a busy machine's statement can outlast a
        // call's wait): then the retry may find it ended and go on to the next batch, as the next
        // call would. Whatever it submitted again went under the same client token, which the
        // stand-in refuses with other SQL (the retry would have failed above).
        if again.step.statement_id != first.step.statement_id {
            assert_ne!(
                first.step.status, "FINISHED",
                "the retry of a {:?} call whose statement had ended submitted another",
                first.phase
            );
        }
        submitted.insert(first.step.statement_id.clone());
        phases.insert(format!("{:?}", first.phase));
        let done = first.step.done;
        previous = Some(first);
        if done {
            break;
        }
    }
    let last = previous.unwrap();
    assert!(last.step.done);
    assert_eq!(last.carried.quarantined_count, 1, "{:?}", last.carried);
    for phase in ["Record", "Copy", "Quarantine"] {
        assert!(phases.contains(phase), "{phase} not retried: {phases:?}");
    }
}

/// The quality checks find a duplicate of a declared key and a play whose user is missing, on a
/// warehouse that plans with declared keys as Redshift does (redshift-local takes
/// `COUNT(DISTINCT key)` of a declared key as `COUNT(key)`, and `NOT EXISTS` over a declared
/// foreign key as false: local/redshift-local/src/keys.rs). Checks over the bare keys passed both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quality_checks_catch_duplicates_and_orphans_the_planner_assumes_away() {
    let pipeline = pipeline(fixtures()).await;
    let report = run_all(&pipeline, "clean", serde_json::json!({}))
        .await
        .unwrap();
    assert!(report.passed, "{:?}", report.checks);
    let admin = client_as(&pipeline, "AKIDADMIN");
    for sql in [
        // One play twice: its songplay_id, the declared primary key, is no longer unique.
        "INSERT INTO songplays SELECT * FROM (SELECT * FROM songplays ORDER BY songplay_id LIMIT 1) one",
        // A play of a user the users table does not hold (songplays.user_id references users).
        "INSERT INTO songplays SELECT MD5('orphan'), start_time, 424242, level, song_id, artist_id, \
         session_id, location, user_agent, source_key FROM (SELECT * FROM songplays ORDER BY songplay_id LIMIT 1) one",
    ] {
        sql_as(&admin, sql).await.unwrap();
    }
    let err = verify(&pipeline, "checked", None).await.unwrap_err();
    let EtlError::DataQualityFailed(failed) = &err else {
        panic!("{err}");
    };
    assert!(
        failed.contains(&"songplays_key_unique (1)".to_owned()),
        "{failed:?}"
    );
    assert!(
        failed.contains(&"songplays_user_in_users (1)".to_owned()),
        "{failed:?}"
    );
}
