//! Redshift's rules, not PostgreSQL's, through the real `aws-sdk-redshiftdata` and `aws-sdk-s3`
//! clients over HTTP: who a request signs in as and what that user may touch, the table locks
//! writes take, the isolation level of each target, COPY's regions and limits, and the Data API's
//! own limits. Each test names the rule; each would have passed on a PostgreSQL-rules stand-in.

mod common;

use aws_sdk_redshiftdata::Client;
use aws_sdk_redshiftdata::error::ProvideErrorMetadata;
use aws_sdk_redshiftdata::types::{Field, StatusString};
use common::{Backend, Server};
use redshift_local::{LocalConfig, Running};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Env {
    local: Running,
    root: PathBuf,
    /// Last, so the stand-in is told to stop before the server's stop waits (`common::Server`).
    _postgres: Server,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Where a statement runs and as whom.
#[derive(Clone, Copy)]
enum On<'a> {
    /// A cluster, signed in with the caller's IAM identity.
    Cluster,
    /// A cluster, as this database user.
    ClusterAs(&'a str),
    /// A workgroup, with the caller's IAM identity.
    Workgroup,
    /// A workgroup, with this secret.
    Secret(&'a str),
}

fn write(root: &Path, key: &str, bytes: &[u8]) {
    let path = root.join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

async fn start_with(backend: Backend, tune: impl FnOnce(&mut LocalConfig)) -> Env {
    static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let root = std::env::temp_dir().join(format!(
        "redshift-local-strict-{}-{}",
        std::process::id(),
        STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    write(
        &root,
        "home-bucket/rows/1.json",
        b"{\"id\": 1}\n{\"id\": 2}",
    );
    write(&root, "away-bucket/rows/1.json", b"{\"id\": 3}");
    write(
        &root,
        "home-bucket/none.manifest",
        br#"{"entries": [{"url": "s3://home-bucket/gone.json", "mandatory": false}]}"#,
    );
    let mut junk = String::new();
    for i in 0..10 {
        junk.push_str(&format!("{{\"id\": {i}}}\n{{broken\n"));
    }
    write(&root, "home-bucket/junk/1.json", junk.as_bytes());
    let mut nine = String::new();
    for i in 0..9 {
        nine.push_str(&format!("{{\"id\": {i}}}\n{{broken\n"));
    }
    write(&root, "home-bucket/nine/1.json", nine.as_bytes());
    let big = format!(
        "{{\"id\": 1}}\n{{\"id\": 2, \"pad\": \"{}\"}}\n",
        "x".repeat(4 * 1024 * 1024)
    );
    write(&root, "home-bucket/big/1.json", big.as_bytes());
    let (postgres, mut config) = common::server(backend);
    config.s3_roots = vec![root.clone()];
    config
        .regions
        .buckets
        .insert("away-bucket".into(), "eu-west-1".into());
    config.secrets.insert(
        "arn:aws:secretsmanager:us-west-2:1:secret:loader".into(),
        "loader".into(),
    );
    tune(&mut config);
    let local = redshift_local::start(config)
        .await
        .expect("stand-in starts");
    Env {
        _postgres: postgres,
        local,
        root,
    }
}

async fn start(backend: Backend) -> Env {
    start_with(backend, |_| {}).await
}

impl Env {
    fn as_key(&self, access_key: &str) -> Client {
        common::client_as(self.local.data_api_url(), access_key)
    }

    fn admin(&self) -> Client {
        self.as_key("AKIDADMIN")
    }

    /// Submits a batch (named, for fault switches); returns its id.
    async fn submit(&self, client: &Client, on: On<'_>, name: &str, sqls: &[&str]) -> String {
        let request = client
            .batch_execute_statement()
            .database("dev")
            .statement_name(name)
            .set_sqls(Some(sqls.iter().map(|s| (*s).to_owned()).collect()));
        let request = match on {
            On::Cluster => request.cluster_identifier("c"),
            On::ClusterAs(user) => request.cluster_identifier("c").db_user(user),
            On::Workgroup => request.workgroup_name("w"),
            On::Secret(arn) => request.workgroup_name("w").secret_arn(arn),
        };
        request.send().await.expect("accepted").id.expect("an id")
    }

    async fn wait(&self, client: &Client, id: &str) -> (StatusString, Option<String>) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let d = client.describe_statement().id(id).send().await.unwrap();
            let status = d.status.clone().unwrap();
            if matches!(
                status,
                StatusString::Finished | StatusString::Failed | StatusString::Aborted
            ) {
                return (status, d.error.clone());
            }
            assert!(Instant::now() < deadline, "{id} still {status:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn run(&self, client: &Client, on: On<'_>, sqls: &[&str]) -> Result<(), String> {
        let id = self.submit(client, on, "t", sqls).await;
        match self.wait(client, &id).await {
            (StatusString::Finished, _) => Ok(()),
            (status, error) => Err(format!("{status:?}: {}", error.unwrap_or_default())),
        }
    }

    /// The rows of one query, fields as text.
    async fn rows(
        &self,
        client: &Client,
        on: On<'_>,
        sql: &str,
    ) -> Result<Vec<Vec<String>>, String> {
        let id = self.submit(client, on, "q", &[sql]).await;
        match self.wait(client, &id).await {
            (StatusString::Finished, _) => {}
            (status, error) => return Err(format!("{status:?}: {}", error.unwrap_or_default())),
        }
        let result = client
            .get_statement_result()
            .id(format!("{id}:1"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        Ok(result
            .records()
            .iter()
            .map(|row| {
                row.iter()
                    .map(|field| match field {
                        Field::LongValue(n) => n.to_string(),
                        Field::StringValue(s) => s.clone(),
                        Field::BooleanValue(b) => b.to_string(),
                        Field::IsNull(_) => "NULL".into(),
                        other => format!("{other:?}"),
                    })
                    .collect()
            })
            .collect())
    }
}

// -- identities and privileges -------------------------------------------------------------

/// Each IAM role signs in as its own database user, and only an object's owner (or a superuser)
/// may use it: one role creating the tables and another loading them is refused, as on Redshift.
async fn each_iam_role_is_its_own_database_user_and_only_the_owner_may_use_a_table(
    backend: Backend,
) {
    let env = start(backend).await;
    let (creator, loader) = (
        env.as_key("role:CreateTablesRole"),
        env.as_key("role:CopyRole"),
    );
    env.run(&creator, On::Workgroup, &["CREATE TABLE t (id INTEGER)"])
        .await
        .unwrap();
    let refused = env
        .run(&loader, On::Workgroup, &["INSERT INTO t VALUES (1)"])
        .await
        .unwrap_err();
    assert!(refused.contains("permission denied"), "{refused}");
    let who = env
        .rows(&creator, On::Workgroup, "SELECT CURRENT_USER")
        .await
        .unwrap();
    assert_eq!(who, [["IAMR:CreateTablesRole"]]);
    // The owner grants; then the other role may write.
    env.run(
        &creator,
        On::Workgroup,
        &["GRANT INSERT, SELECT ON t TO \"IAMR:CopyRole\""],
    )
    .await
    .unwrap();
    env.run(&loader, On::Workgroup, &["INSERT INTO t VALUES (1)"])
        .await
        .unwrap();
    // The admin (any other access key) is a superuser; user:NAME is an IAM user.
    assert_eq!(
        env.rows(&env.admin(), On::Cluster, "SELECT COUNT(*) FROM t")
            .await
            .unwrap(),
        [["1"]]
    );
    assert_eq!(
        env.rows(&env.as_key("user:ana"), On::Cluster, "SELECT CURRENT_USER")
            .await
            .unwrap(),
        [["IAM:ana"]]
    );
}

/// DbUser and SecretArn win over the caller's IAM identity; an unknown secret is refused.
async fn db_user_and_secrets_sign_in_as_their_user(backend: Backend) {
    let env = start(backend).await;
    let client = env.as_key("role:Whoever");
    assert_eq!(
        env.rows(&client, On::ClusterAs("etl"), "SELECT CURRENT_USER")
            .await
            .unwrap(),
        [["etl"]]
    );
    let secret = "arn:aws:secretsmanager:us-west-2:1:secret:loader";
    assert_eq!(
        env.rows(&client, On::Secret(secret), "SELECT CURRENT_USER")
            .await
            .unwrap(),
        [["loader"]]
    );
    let unknown = client
        .execute_statement()
        .workgroup_name("w")
        .database("dev")
        .secret_arn("arn:aws:secretsmanager:us-west-2:1:secret:nope")
        .sql("SELECT 1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Some("ValidationException"));
}

/// SYS_LOAD_ERROR_DETAIL shows a regular user only their own loads, a superuser all of them,
/// with exactly Redshift's columns and types; a workgroup has no STL views.
async fn load_errors_are_visible_to_their_user_with_redshifts_columns(backend: Backend) {
    let env = start(backend).await;
    let (a, b) = (env.as_key("role:A"), env.as_key("role:B"));
    env.run(
        &a,
        On::Workgroup,
        &["CREATE TABLE a_rows (id INTEGER)", "COPY a_rows FROM 's3://home-bucket/nine/' IAM_ROLE default FORMAT AS JSON 'auto' MAXERROR 10"],
    )
    .await
    .unwrap();
    let count = "SELECT COUNT(*) FROM sys_load_error_detail";
    assert_eq!(env.rows(&a, On::Workgroup, count).await.unwrap(), [["9"]]);
    assert_eq!(env.rows(&b, On::Workgroup, count).await.unwrap(), [["0"]]);
    assert_eq!(
        env.rows(&env.admin(), On::Workgroup, count).await.unwrap(),
        [["9"]]
    );
    // file_name is character(256): it comes back padded, as Redshift's does.
    let name = env
        .rows(
            &a,
            On::Workgroup,
            "SELECT file_name FROM sys_load_error_detail LIMIT 1",
        )
        .await
        .unwrap();
    assert_eq!(name[0][0].len(), 256);
    assert_eq!(name[0][0].trim_end(), "s3://home-bucket/nine/1.json");
    let columns = env
        .rows(
            &env.admin(),
            On::Cluster,
            "SELECT column_name, data_type, COALESCE(character_maximum_length, 0) FROM information_schema.columns \
             WHERE table_name = 'sys_load_error_detail' ORDER BY ordinal_position",
        )
        .await
        .unwrap();
    let expected = [
        ("user_id", "integer", 0),
        ("query_id", "bigint", 0),
        ("transaction_id", "bigint", 0),
        ("session_id", "integer", 0),
        ("database_name", "character", 64),
        ("table_id", "integer", 0),
        ("start_time", "timestamp without time zone", 0),
        ("file_name", "character", 256),
        ("line_number", "bigint", 0),
        ("column_name", "character", 127),
        ("column_type", "character", 10),
        ("column_length", "character", 10),
        ("position", "integer", 0),
        ("error_code", "integer", 0),
        ("error_message", "character", 512),
    ];
    let expected: Vec<Vec<String>> = expected
        .iter()
        .map(|(n, t, l)| vec![(*n).into(), (*t).into(), l.to_string()])
        .collect();
    assert_eq!(columns, expected);
    let stl = "SELECT COUNT(*) FROM stl_load_errors";
    let absent = env.rows(&a, On::Workgroup, stl).await.unwrap_err();
    assert!(absent.contains("does not exist"), "{absent}");
    assert_eq!(env.rows(&a, On::Cluster, stl).await.unwrap(), [["9"]]);
}

// -- regions and COPY -----------------------------------------------------------------------

/// COPY reads S3 in the warehouse's region unless REGION names another; a bucket elsewhere
/// answers PermanentRedirect and the COPY fails with Redshift's S3ServiceException.
async fn copy_reads_s3_in_one_region_and_a_bucket_elsewhere_redirects(backend: Backend) {
    let env = start(backend).await;
    let admin = env.admin();
    env.run(&admin, On::Cluster, &["CREATE TABLE r (id INTEGER)"])
        .await
        .unwrap();
    let copy = |from: &str, region: &str| {
        format!("COPY r FROM 's3://{from}/rows/' IAM_ROLE default {region} FORMAT AS JSON 'auto'")
    };
    env.run(&admin, On::Cluster, &[&copy("home-bucket", "")])
        .await
        .unwrap();
    let away = env
        .run(&admin, On::Cluster, &[&copy("away-bucket", "")])
        .await
        .unwrap_err();
    assert!(
        away.contains("S3ServiceException:The bucket you are attempting to access must be addressed using the specified endpoint")
            && away.contains("Status 301,Error PermanentRedirect"),
        "{away}"
    );
    env.run(
        &admin,
        On::Cluster,
        &[&copy("away-bucket", "REGION 'eu-west-1'")],
    )
    .await
    .unwrap();
    let wrong = env
        .run(
            &admin,
            On::Cluster,
            &[&copy("home-bucket", "REGION 'eu-west-1'")],
        )
        .await
        .unwrap_err();
    assert!(wrong.contains("PermanentRedirect"), "{wrong}");
    assert_eq!(
        env.rows(&admin, On::Cluster, "SELECT COUNT(*) FROM r")
            .await
            .unwrap(),
        [["3"]]
    );

    // Any S3 client signed for another region than the bucket's is redirected, as by S3.
    let s3_url = env.local.s3_url().unwrap();
    let err = redshift_local::s3::client_in(&s3_url, "us-west-2")
        .get_object()
        .bucket("away-bucket")
        .key("rows/1.json")
        .send()
        .await
        .unwrap_err();
    let raw = err.raw_response().expect("an answer");
    assert_eq!(raw.status().as_u16(), 301);
    assert_eq!(raw.headers().get("x-amz-bucket-region"), Some("eu-west-1"));
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&err),
        Some("PermanentRedirect")
    );
    let found = redshift_local::s3::client_in(&s3_url, "eu-west-1")
        .get_object()
        .bucket("away-bucket")
        .key("rows/1.json")
        .send()
        .await;
    assert!(found.is_ok());
}

/// MAXERROR fails at error_count rejects or more, at most 100000; one JSON object over 4 MB fails
/// the whole COPY; a manifest that finds no file fails.
async fn copy_fails_where_redshift_documents_it_fails(backend: Backend) {
    let env = start(backend).await;
    let admin = env.admin();
    env.run(&admin, On::Cluster, &["CREATE TABLE r (id INTEGER)"])
        .await
        .unwrap();
    let copy =
        |options: &str| format!("COPY r FROM {options} IAM_ROLE default FORMAT AS JSON 'auto'");
    // Ten rejects with MAXERROR 10 fail; nine load.
    let ten = env
        .run(
            &admin,
            On::Cluster,
            &[&copy("'s3://home-bucket/junk/' MAXERROR 10")],
        )
        .await
        .unwrap_err();
    assert!(ten.contains("Load into table 'r' failed"), "{ten}");
    env.run(
        &admin,
        On::Cluster,
        &[&copy("'s3://home-bucket/nine/' MAXERROR 10")],
    )
    .await
    .unwrap();
    let over = env
        .run(
            &admin,
            On::Cluster,
            &[&copy("'s3://home-bucket/nine/' MAXERROR 100001")],
        )
        .await
        .unwrap_err();
    assert!(over.contains("limit of 100000"), "{over}");
    let big = env
        .run(
            &admin,
            On::Cluster,
            &[&copy("'s3://home-bucket/big/' MAXERROR 10")],
        )
        .await
        .unwrap_err();
    assert!(big.contains("4 MB"), "{big}");
    let none = env
        .run(
            &admin,
            On::Cluster,
            &[&copy("'s3://home-bucket/none.manifest' MANIFEST")],
        )
        .await
        .unwrap_err();
    assert!(none.contains("found no files"), "{none}");
    // Only the nine good rows of the one COPY that loaded.
    assert_eq!(
        env.rows(&admin, On::Cluster, "SELECT COUNT(*) FROM r")
            .await
            .unwrap(),
        [["9"]]
    );
}

// -- locks and isolation (concurrent transactions: a real PostgreSQL) -------------------------

/// Writes take Redshift's write lock on their table first, so two transactions writing two tables
/// in opposite orders deadlock, and one fails (PostgreSQL's row locks alone would let both run).
async fn writers_of_two_tables_in_opposite_orders_deadlock(backend: Backend) {
    let env = start(backend).await;
    let admin = env.admin();
    env.run(
        &admin,
        On::Cluster,
        &["CREATE TABLE a (k INTEGER)", "CREATE TABLE b (k INTEGER)"],
    )
    .await
    .unwrap();
    for name in ["ab", "ba"] {
        arm_pause(&env, name, 2, 1500).await;
    }
    let ab = env
        .submit(
            &admin,
            On::Cluster,
            "ab",
            &["INSERT INTO a VALUES (1)", "INSERT INTO b VALUES (1)"],
        )
        .await;
    let ba = env
        .submit(
            &admin,
            On::Cluster,
            "ba",
            &["INSERT INTO b VALUES (2)", "INSERT INTO a VALUES (2)"],
        )
        .await;
    let ends = [env.wait(&admin, &ab).await, env.wait(&admin, &ba).await];
    let failed: Vec<&String> = ends
        .iter()
        .filter(|(status, _)| *status == StatusString::Failed)
        .filter_map(|(_, error)| error.as_ref())
        .collect();
    assert_eq!(failed.len(), 1, "{ends:?}");
    assert!(
        failed[0].starts_with("ERROR: deadlock detected"),
        "{}",
        failed[0]
    );
    // The same two writes in one order queue behind each other and both commit.
    for name in ["ab1", "ab2"] {
        arm_pause(&env, name, 2, 500).await;
    }
    let first = env
        .submit(
            &admin,
            On::Cluster,
            "ab1",
            &["INSERT INTO a VALUES (3)", "INSERT INTO b VALUES (3)"],
        )
        .await;
    let second = env
        .submit(
            &admin,
            On::Cluster,
            "ab2",
            &["INSERT INTO a VALUES (4)", "INSERT INTO b VALUES (4)"],
        )
        .await;
    assert_eq!(env.wait(&admin, &first).await.0, StatusString::Finished);
    assert_eq!(env.wait(&admin, &second).await.0, StatusString::Finished);
    // A CREATE TABLE IF NOT EXISTS of a table that exists takes its write lock (the guides are
    // silent: the strict reading), so creating in another order than writing deadlocks too.
    for name in ["ab5", "ba5"] {
        arm_pause(&env, name, 2, 1500).await;
    }
    let ab = env
        .submit(
            &admin,
            On::Cluster,
            "ab5",
            &["INSERT INTO a VALUES (5)", "INSERT INTO b VALUES (5)"],
        )
        .await;
    let ba = env
        .submit(
            &admin,
            On::Cluster,
            "ba5",
            &[
                "CREATE TABLE IF NOT EXISTS b (k INTEGER)",
                "CREATE TABLE IF NOT EXISTS a (k INTEGER)",
            ],
        )
        .await;
    let ends = [env.wait(&admin, &ab).await, env.wait(&admin, &ba).await];
    assert_eq!(
        ends.iter()
            .filter(|(_, error)| error
                .as_deref()
                .is_some_and(|e| e.starts_with("ERROR: deadlock detected")))
            .count(),
        1,
        "{ends:?}"
    );
}

/// A cluster's transactions are SERIALIZABLE (write skew fails with error 1023); a workgroup's
/// are SNAPSHOT (write skew commits, and a lost update conflict is not error 1023).
async fn isolation_follows_the_target(backend: Backend) {
    let env = start(backend).await;
    let admin = env.admin();
    env.run(
        &admin,
        On::Cluster,
        &[
            "CREATE TABLE t (k INTEGER, v INTEGER)",
            "INSERT INTO t VALUES (0, 0)",
        ],
    )
    .await
    .unwrap();
    let skew = |reads: i32, writes: i32| {
        [
            format!("SELECT COUNT(*) FROM t WHERE k = {reads}"),
            format!("INSERT INTO t VALUES ({writes}, 0)"),
        ]
    };
    fn batch(sqls: &[String; 2]) -> Vec<&str> {
        sqls.iter().map(String::as_str).collect()
    }
    for (on, name) in [(On::Cluster, "serial"), (On::Workgroup, "snapshot")] {
        for n in 1..=2 {
            arm_pause(&env, &format!("{name}-{n}"), 2, 800).await;
        }
        let first = env
            .submit(&admin, on, &format!("{name}-1"), &batch(&skew(1, 2)))
            .await;
        let second = env
            .submit(&admin, on, &format!("{name}-2"), &batch(&skew(2, 1)))
            .await;
        let ends = [
            env.wait(&admin, &first).await,
            env.wait(&admin, &second).await,
        ];
        let failed: Vec<_> = ends
            .iter()
            .filter(|e| e.0 == StatusString::Failed)
            .collect();
        match on {
            On::Cluster => {
                assert_eq!(failed.len(), 1, "{ends:?}");
                let error = failed[0].1.as_deref().unwrap();
                assert!(
                    error.starts_with("ERROR: 1023 DETAIL: Serializable isolation violation"),
                    "{error}"
                );
            }
            _ => assert!(
                failed.is_empty(),
                "snapshot isolation allows write skew: {ends:?}"
            ),
        }
        env.run(&admin, On::Cluster, &["DELETE FROM t WHERE k > 0"])
            .await
            .unwrap();
    }
    // Two updates of one row under SNAPSHOT: the later one fails, not with 1023.
    for n in 1..=2 {
        arm_pause(&env, &format!("update-{n}"), 2, 800).await;
    }
    let update = |v: i32| {
        [
            "SELECT v FROM t WHERE k = 0".to_owned(),
            format!("UPDATE t SET v = {v} WHERE k = 0"),
        ]
    };
    let first = env
        .submit(&admin, On::Workgroup, "update-1", &batch(&update(1)))
        .await;
    let second = env
        .submit(&admin, On::Workgroup, "update-2", &batch(&update(2)))
        .await;
    let ends = [
        env.wait(&admin, &first).await,
        env.wait(&admin, &second).await,
    ];
    let failed: Vec<_> = ends
        .iter()
        .filter(|e| e.0 == StatusString::Failed)
        .collect();
    assert_eq!(failed.len(), 1, "{ends:?}");
    let error = failed[0].1.as_deref().unwrap();
    assert!(
        error.contains("could not serialize access") && !error.contains("1023"),
        "{error}"
    );
}

async fn arm_pause(env: &Env, name: &str, sub_statement: usize, millis: u64) {
    arm(env, &format!(
        r#"{{"kind": "pause", "statement_name": "{name}", "sub_statement": {sub_statement}, "millis": {millis}}}"#
    ))
    .await;
}

async fn arm(env: &Env, fault: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(env.local.data_api_addr)
        .await
        .unwrap();
    let request = format!(
        "POST /_local/faults HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{fault}",
        fault.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
}

// -- the Data API's limits ------------------------------------------------------------------

/// SQL over 100 KB, more active statements than allowed, a client token older than its
/// retention, DescribeStatement of `<id>:N`, ListStatements of the caller only, and the
/// server-side faults.
async fn the_data_apis_limits_and_shapes_are_aws_s(backend: Backend) {
    let env = start_with(backend, |config| {
        config.max_active_statements = 1;
        config.client_token_retention = Duration::from_millis(600);
        config.min_statement_time = Duration::from_millis(300);
    })
    .await;
    let admin = env.admin();
    let long = format!("SELECT '{}'", "x".repeat(100 * 1024));
    let refused = admin
        .execute_statement()
        .cluster_identifier("c")
        .database("dev")
        .sql(long)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("ValidationException"));
    assert!(refused.message().unwrap().contains("100 KB"));

    let first = env
        .submit(&admin, On::Cluster, "one", &["SELECT 1", "SELECT 2"])
        .await;
    let busy = admin
        .execute_statement()
        .cluster_identifier("c")
        .database("dev")
        .sql("SELECT 3")
        .send()
        .await
        .unwrap_err();
    assert_eq!(busy.code(), Some("ActiveStatementsExceededException"));
    env.wait(&admin, &first).await;
    let second = admin
        .describe_statement()
        .id(format!("{first}:2"))
        .send()
        .await
        .unwrap();
    assert_eq!(second.id(), format!("{first}:2"));
    assert_eq!(second.query_string(), Some("SELECT 2"));
    assert_eq!(second.status(), Some(&StatusString::Finished));

    // The same client token names the same statement while it is retained, then a new one.
    let token_run = || {
        admin
            .execute_statement()
            .cluster_identifier("c")
            .database("dev")
            .client_token("token-1")
            .sql("SELECT 4")
            .send()
    };
    let a = token_run().await.unwrap().id.unwrap();
    env.wait(&admin, &a).await;
    let b = token_run().await.unwrap().id.unwrap();
    assert_eq!(a, b);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let c = token_run().await.unwrap().id.unwrap();
    assert_ne!(a, c);
    env.wait(&admin, &c).await;

    // ListStatements shows the caller's own statements only.
    let other = env.as_key("role:Other");
    let theirs = env
        .submit(&other, On::Workgroup, "theirs", &["SELECT 5"])
        .await;
    env.wait(&other, &theirs).await;
    let listed = |client: Client| async move {
        client
            .list_statements()
            .send()
            .await
            .unwrap()
            .statements()
            .iter()
            .map(|s| s.id().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(other.clone()).await, std::slice::from_ref(&theirs));
    assert!(!listed(admin.clone()).await.contains(&theirs));

    // The server-side faults: HTTP 500 with the exception's name, nothing run.
    arm(
        &env,
        r#"{"kind": "server-error", "operation": "BatchExecuteStatement", "times": 5}"#,
    )
    .await;
    let fault = admin
        .batch_execute_statement()
        .cluster_identifier("c")
        .database("dev")
        .sqls("SELECT 6")
        .send()
        .await
        .unwrap_err();
    assert_eq!(fault.code(), Some("BatchExecuteStatementException"));
    assert_eq!(fault.raw_response().unwrap().status().as_u16(), 500);
}

/// What Redshift documents as unsupported fails through the API with text naming it.
async fn sql_redshift_does_not_run_fails_naming_the_construct(backend: Backend) {
    let env = start(backend).await;
    let admin = env.admin();
    env.run(&admin, On::Cluster, &["CREATE TABLE t (k INTEGER)"])
        .await
        .unwrap();
    for (sql, named) in [
        (
            "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING",
            "ON CONFLICT",
        ),
        ("CREATE INDEX i ON t (k)", "CREATE INDEX"),
        ("CREATE TABLE j (doc JSONB)", "JSONB"),
        ("SELECT DISTINCT ON (k) k FROM t", "DISTINCT ON"),
    ] {
        let error = env.run(&admin, On::Cluster, &[sql]).await.unwrap_err();
        assert!(error.contains(named), "{sql}: {error}");
    }
}

/// VARCHAR and CHAR lengths are bytes ("Character types"), in every write, not only COPY's: 80
/// one-byte characters fit a VARCHAR(80), 41 two-byte ones do not, by INSERT, UPDATE or a
/// SELECT's insert; a VARCHAR without a length is 256 bytes; CHAR is single-byte.
async fn varchar_lengths_are_bytes_in_every_write(backend: Backend) {
    let env = start(backend).await;
    let admin = env.admin();
    env.run(
        &admin,
        On::Cluster,
        &["CREATE TABLE b (v VARCHAR(80), w VARCHAR, c CHAR(4))"],
    )
    .await
    .unwrap();
    let ascii = "e".repeat(80);
    let wide = "\u{e9}".repeat(41);
    let fits = format!("INSERT INTO b (v) VALUES ('{ascii}')");
    env.run(&admin, On::Cluster, &[fits.as_str()])
        .await
        .unwrap();
    for sql in [
        format!("INSERT INTO b (v) VALUES ('{wide}')"),
        format!("UPDATE b SET v = '{wide}'"),
        format!("INSERT INTO b (v) SELECT '{wide}'"),
        format!("INSERT INTO b (w) VALUES ('{}')", "\u{e9}".repeat(129)),
        "INSERT INTO b (c) VALUES ('\u{e9}\u{e9}\u{e9}')".to_owned(),
    ] {
        let error = env
            .run(&admin, On::Cluster, &[sql.as_str()])
            .await
            .unwrap_err();
        assert!(error.contains("_bytes"), "{sql}: {error}");
    }
    let kept = env
        .rows(
            &admin,
            On::Cluster,
            "SELECT COUNT(*), MAX(OCTET_LENGTH(v)) FROM b",
        )
        .await
        .unwrap();
    assert_eq!(kept, [["1", "80"]]);
}

// -- the cluster's lifecycle ----------------------------------------------------------------

const COPY_ROLE: &str = "arn:aws:iam::123456789012:role/sparkify-copy";

/// The real `aws-sdk-redshift` client on the stand-in's management API.
fn clusters_client(env: &Env) -> aws_sdk_redshift::Client {
    let config = aws_sdk_redshift::Config::builder()
        .behavior_version(aws_sdk_redshift::config::BehaviorVersion::latest())
        .region(aws_sdk_redshift::config::Region::new("us-west-2"))
        .credentials_provider(aws_sdk_redshift::config::Credentials::new(
            "local", "local", None, None, "test",
        ))
        .endpoint_url(env.local.data_api_url())
        .build();
    aws_sdk_redshift::Client::from_conf(config)
}

async fn status(redshift: &aws_sdk_redshift::Client) -> String {
    let described = redshift
        .describe_clusters()
        .cluster_identifier("c")
        .send()
        .await
        .unwrap();
    described.clusters()[0].cluster_status().unwrap().to_owned()
}

/// "Pausing and resuming clusters": available → pausing → paused → resuming → available, each
/// move in its time; while not available, "connections or queries to the cluster aren't
/// available"; PauseCluster and ResumeCluster from the wrong state are InvalidClusterState, an
/// unknown cluster is ClusterNotFound (the service model's faults).
async fn a_served_cluster_pauses_and_resumes_and_takes_no_queries_in_between(backend: Backend) {
    use aws_sdk_redshift::error::ProvideErrorMetadata as _;
    let env = start_with(backend, |config| {
        config.clusters = vec![redshift_local::clusters::ClusterSpec {
            identifier: "c".into(),
            iam_roles: vec![COPY_ROLE.into()],
            database: "dev".into(),
            node_type: "ra3.large".into(),
            nodes: 2,
        }];
        config.pause_time = Duration::from_millis(400);
        config.resume_time = Duration::from_millis(400);
    })
    .await;
    let (admin, redshift) = (env.admin(), clusters_client(&env));
    let described = redshift
        .describe_clusters()
        .cluster_identifier("c")
        .send()
        .await
        .unwrap();
    let cluster = &described.clusters()[0];
    assert_eq!(cluster.cluster_status(), Some("available"));
    assert_eq!(cluster.node_type(), Some("ra3.large"));
    assert_eq!(cluster.number_of_nodes(), Some(2));
    assert_eq!(cluster.db_name(), Some("dev"));
    assert!(cluster.endpoint().and_then(|e| e.address()).is_some());
    let roles: Vec<_> = cluster
        .iam_roles()
        .iter()
        .map(|r| (r.iam_role_arn().unwrap(), r.apply_status().unwrap()))
        .collect();
    assert_eq!(roles, [(COPY_ROLE, "in-sync")]);
    let missing = redshift
        .describe_clusters()
        .cluster_identifier("nope")
        .send()
        .await
        .unwrap_err();
    assert!(
        missing
            .as_service_error()
            .is_some_and(|e| e.is_cluster_not_found_fault()),
        "{missing:?}"
    );
    let early = redshift
        .resume_cluster()
        .cluster_identifier("c")
        .send()
        .await
        .unwrap_err();
    assert_eq!(early.code(), Some("InvalidClusterState"));

    env.run(&admin, On::Cluster, &["CREATE TABLE r (id INTEGER)"])
        .await
        .unwrap();
    let pausing = redshift
        .pause_cluster()
        .cluster_identifier("c")
        .send()
        .await
        .unwrap();
    assert_eq!(pausing.cluster().unwrap().cluster_status(), Some("pausing"));
    let twice = redshift
        .pause_cluster()
        .cluster_identifier("c")
        .send()
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Some("InvalidClusterState"));
    let refused = admin
        .execute_statement()
        .cluster_identifier("c")
        .database("dev")
        .sql("SELECT 1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("ValidationException"));
    assert!(
        refused.message().unwrap().contains("aren't available"),
        "{refused:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status(&redshift).await, "paused");
    let resuming = redshift
        .resume_cluster()
        .cluster_identifier("c")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resuming.cluster().unwrap().cluster_status(),
        Some("resuming")
    );
    assert_eq!(status(&redshift).await, "resuming");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status(&redshift).await, "available");
    assert_eq!(
        env.rows(&admin, On::Cluster, "SELECT COUNT(*) FROM r")
            .await
            .unwrap(),
        [["0"]]
    );
    // An identifier the stand-in does not serve is no endpoint at all.
    let unknown = admin
        .execute_statement()
        .cluster_identifier("other")
        .database("dev")
        .sql("SELECT 1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        unknown.message(),
        Some("Redshift endpoint doesn't exist in this region.")
    );

    // COPY may assume only a role attached to the cluster (Redshift's error 8001).
    let copy = |role: &str| {
        format!("COPY r FROM 's3://home-bucket/rows/' IAM_ROLE '{role}' FORMAT AS JSON 'auto'")
    };
    let other = env
        .run(
            &admin,
            On::Cluster,
            &[&copy("arn:aws:iam::123456789012:role/other")],
        )
        .await
        .unwrap_err();
    assert!(
        other.contains("is not authorized to assume IAM Role arn:aws:iam::123456789012:role/other"),
        "{other}"
    );
    env.run(&admin, On::Cluster, &[&copy(COPY_ROLE)])
        .await
        .unwrap();
    assert_eq!(
        env.rows(&admin, On::Cluster, "SELECT COUNT(*) FROM r")
            .await
            .unwrap(),
        [["2"]]
    );
}

/// Readers by Redshift's rules: a fresh IAM user may read nothing of another user's tables; a role
/// a superuser creates and grants gives what its owner granted it (`GRANT ... TO ROLE`), reads
/// only; only a superuser creates roles, grants them, or lets a user see every user's load errors
/// (unrestricted SYSLOG ACCESS).
async fn roles_give_readers_what_the_owner_grants_and_syslog_access_shows_every_load(
    backend: Backend,
) {
    let env = start(backend).await;
    let (owner, ana) = (env.as_key("role:Etl"), env.as_key("user:ana"));
    env.run(
        &owner,
        On::Workgroup,
        &["CREATE TABLE t (id INTEGER)", "COPY t FROM 's3://home-bucket/nine/' IAM_ROLE default FORMAT AS JSON 'auto' MAXERROR 10"],
    )
    .await
    .unwrap();
    let read = "SELECT COUNT(*) FROM t";
    let denied = env.rows(&ana, On::Workgroup, read).await.unwrap_err();
    assert!(denied.contains("permission denied"), "{denied}");
    // Only a superuser (or a holder of CREATE ROLE) creates a role; only a superuser grants it.
    let refused = env
        .run(&owner, On::Workgroup, &["CREATE ROLE readers"])
        .await
        .unwrap_err();
    assert!(refused.contains("permission denied"), "{refused}");
    env.run(&env.admin(), On::Workgroup, &["CREATE ROLE readers"])
        .await
        .unwrap();
    // PostgreSQL 17 words it "permission denied to grant role", 15 "must have admin option";
    // Redshift documents no text, only the rule.
    let refused = env
        .run(
            &owner,
            On::Workgroup,
            &["GRANT ROLE readers TO \"IAM:ana\""],
        )
        .await
        .unwrap_err();
    assert!(
        refused.contains("permission denied") || refused.contains("must have admin option"),
        "{refused}"
    );
    env.run(
        &env.admin(),
        On::Workgroup,
        &["GRANT ROLE readers TO \"IAM:ana\""],
    )
    .await
    .unwrap();
    // The role holds nothing until the owner grants it.
    let denied = env.rows(&ana, On::Workgroup, read).await.unwrap_err();
    assert!(denied.contains("permission denied"), "{denied}");
    env.run(
        &owner,
        On::Workgroup,
        &["GRANT SELECT ON TABLE t TO ROLE readers"],
    )
    .await
    .unwrap();
    assert_eq!(
        env.rows(&ana, On::Workgroup, read).await.unwrap(),
        env.rows(&owner, On::Workgroup, read).await.unwrap()
    );
    for write in ["INSERT INTO t VALUES (1)", "DELETE FROM t", "DROP TABLE t"] {
        let refused = env.run(&ana, On::Workgroup, &[write]).await.unwrap_err();
        assert!(
            refused.contains("permission denied") || refused.contains("must be owner"),
            "{write}: {refused}"
        );
    }
    // The owner's load errors: not ana's to see, until a superuser lifts her SYSLOG ACCESS.
    let errors = "SELECT COUNT(*) FROM sys_load_error_detail";
    assert_eq!(
        env.rows(&ana, On::Workgroup, errors).await.unwrap(),
        [["0"]]
    );
    let unrestricted = "ALTER USER \"IAM:ana\" SYSLOG ACCESS UNRESTRICTED";
    assert!(
        env.run(&owner, On::Workgroup, &[unrestricted])
            .await
            .is_err()
    );
    env.run(&env.admin(), On::Workgroup, &[unrestricted])
        .await
        .unwrap();
    assert_eq!(
        env.rows(&ana, On::Workgroup, errors).await.unwrap(),
        [["9"]]
    );
    env.run(
        &env.admin(),
        On::Workgroup,
        &["ALTER USER \"IAM:ana\" SYSLOG ACCESS RESTRICTED"],
    )
    .await
    .unwrap();
    assert_eq!(
        env.rows(&ana, On::Workgroup, errors).await.unwrap(),
        [["0"]]
    );
}

/// A stand-in serving cluster `c` (the COPY role attached), each move taking `millis`.
async fn start_with_cluster_c(backend: Backend, millis: u64) -> Env {
    start_with(backend, |config| {
        config.clusters = vec![redshift_local::clusters::ClusterSpec {
            identifier: "c".into(),
            iam_roles: vec![COPY_ROLE.into()],
            database: "dev".into(),
            node_type: "ra3.large".into(),
            nodes: 2,
        }];
        config.pause_time = Duration::from_millis(millis);
        config.resume_time = Duration::from_millis(millis);
    })
    .await
}

/// One raw HTTP exchange with the stand-in's Data API port: the status line and the body.
async fn exchange(env: &Env, request: String) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(env.local.data_api_addr)
        .await
        .unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

/// Arms a cluster fault with the management API's own action `ArmLocalFault`.
async fn arm_cluster_fault(env: &Env, fault: &str) {
    let encoded: String = fault
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    let body = format!("Action=ArmLocalFault&Version=2012-12-01&Fault={encoded}");
    let (status, answer) = exchange(
        env,
        format!(
            "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=local/20261206/us-west-2/redshift/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}: {answer}");
}

/// Cluster `c`'s line of `GET /_local/clusters`: its status and pause and resume counts.
async fn cluster_report(env: &Env) -> serde_json::Value {
    let (status, body) = exchange(
        env,
        "GET /_local/clusters HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["c"].clone()
}

async fn until_status(redshift: &aws_sdk_redshift::Client, wanted: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = status(redshift).await;
        if now == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "cluster c still {now}, not {wanted}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The warehouse function's marker (functions/warehouse: `marker_key`), in a bucket of the
/// stand-in's S3.
const MARKER: (&str, &str) = ("home-bucket", "warehouse/c/resumed-by-a-run.json");

async fn put_marker(s3: &aws_sdk_s3::Client, run: &str) {
    s3.put_object()
        .bucket(MARKER.0)
        .key(MARKER.1)
        .body(format!("{{\"resumed_by\": \"{run}\"}}").into_bytes().into())
        .send()
        .await
        .unwrap();
}

async fn marker_is_there(s3: &aws_sdk_s3::Client) -> bool {
    match s3.head_object().bucket(MARKER.0).key(MARKER.1).send().await {
        Ok(_) => true,
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => false,
        Err(err) => panic!("HeadObject: {err:?}"),
    }
}

/// A run's `wake` on a cluster it read `paused`, call for call as functions/warehouse makes it
/// (this crate's tests cannot depend on the function; its own tests hold it to the same rules):
/// the marker, ResumeCluster, and on a refusal DescribeClusters, where `resuming` or `available`
/// means someone is waking the cluster; the marker again. The status the run then waits on, and
/// the refusal (code, HTTP status) if there was one.
async fn wake_like_the_function(
    redshift: &aws_sdk_redshift::Client,
    s3: &aws_sdk_s3::Client,
    run: &str,
) -> (String, Option<(String, u16)>) {
    use aws_sdk_redshift::error::ProvideErrorMetadata as _;
    put_marker(s3, run).await;
    let answer = redshift
        .resume_cluster()
        .cluster_identifier("c")
        .send()
        .await;
    let (now, refusal) = match answer {
        Ok(resumed) => (
            resumed
                .cluster()
                .unwrap()
                .cluster_status()
                .unwrap()
                .to_owned(),
            None,
        ),
        Err(err) => {
            let refusal = (
                err.code().unwrap_or("none").to_owned(),
                err.raw_response().map_or(0, |r| r.status().as_u16()),
            );
            let now = status(redshift).await;
            assert!(
                now == "resuming" || now.starts_with("available"),
                "{run}: ResumeCluster refused ({err:?}) and the cluster is {now}"
            );
            (now, Some(refusal))
        }
    };
    put_marker(s3, run).await;
    (now, refusal)
}

/// The last run out's `sleep`, as functions/warehouse makes it: with the marker there, pause
/// an available cluster and remove the marker. What it did.
async fn sleep_like_the_last_out(
    redshift: &aws_sdk_redshift::Client,
    s3: &aws_sdk_s3::Client,
) -> String {
    if !marker_is_there(s3).await {
        return "left running".into();
    }
    let now = status(redshift).await;
    if now != "available" {
        return format!("waits: {now}");
    }
    redshift
        .pause_cluster()
        .cluster_identifier("c")
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket(MARKER.0)
        .key(MARKER.1)
        .send()
        .await
        .unwrap();
    "paused".into()
}

/// Two runs wake a paused cluster at once: both read `paused` and write the marker; of their
/// two ResumeClusters one moves the cluster and the other is InvalidClusterState (HTTP 400), as
/// AWS answers a resume of a cluster that is not paused. The refused run finds the cluster
/// resuming and waits for it, the marker in place; both runs' statements run once it is
/// available, and the last run out pauses it again: one resume, one pause.
async fn two_runs_waking_a_paused_cluster_at_once_resume_it_once_and_the_last_pauses_it(
    backend: Backend,
) {
    let env = start_with_cluster_c(backend, 300).await;
    let (admin, redshift) = (env.admin(), clusters_client(&env));
    let s3 = redshift_local::s3::client_in(&env.local.s3_url().unwrap(), "us-west-2");
    redshift
        .pause_cluster()
        .cluster_identifier("c")
        .send()
        .await
        .unwrap();
    until_status(&redshift, "paused").await;
    assert!(!marker_is_there(&s3).await);
    // Both runs read `paused`, then wake it at once.
    assert_eq!(
        (status(&redshift).await, status(&redshift).await),
        ("paused".to_owned(), "paused".to_owned())
    );
    let (a, b) = tokio::join!(
        wake_like_the_function(&redshift, &s3, "run-a"),
        wake_like_the_function(&redshift, &s3, "run-b")
    );
    let refusals: Vec<_> = [&a.1, &b.1].into_iter().flatten().collect();
    assert_eq!(
        refusals,
        [&("InvalidClusterState".to_owned(), 400)],
        "{a:?} {b:?}"
    );
    assert_eq!((a.0.as_str(), b.0.as_str()), ("resuming", "resuming"));
    assert!(marker_is_there(&s3).await);
    until_status(&redshift, "available").await;
    for run in ["run-a", "run-b"] {
        let rows = env
            .rows(&admin, On::Cluster, &format!("SELECT '{run}'"))
            .await;
        assert_eq!(rows.unwrap(), [[run]]);
    }
    // run-b leaves first; run-a, the last out, pauses.
    assert_eq!(sleep_like_the_last_out(&redshift, &s3).await, "paused");
    until_status(&redshift, "paused").await;
    assert!(!marker_is_there(&s3).await);
    assert_eq!(
        cluster_report(&env).await,
        serde_json::json!({"status": "paused", "pauses": 2, "resumes": 1})
    );
}

/// A ResumeCluster whose answer is lost (fault `lose-answer`: it takes effect, the client gets
/// HTTP 500 InternalFailure): the real SDK retries it, and the retry is InvalidClusterState,
/// since the cluster is resuming. The run finds it resuming, keeps its marker and waits; the
/// last run out pauses it again.
async fn a_resume_whose_answer_is_lost_is_retried_refused_and_the_cluster_paused_after_the_run(
    backend: Backend,
) {
    let env = start_with_cluster_c(backend, 300).await;
    let redshift = clusters_client(&env);
    let s3 = redshift_local::s3::client_in(&env.local.s3_url().unwrap(), "us-west-2");
    redshift
        .pause_cluster()
        .cluster_identifier("c")
        .send()
        .await
        .unwrap();
    until_status(&redshift, "paused").await;
    arm_cluster_fault(
        &env,
        r#"{"kind": "lose-answer", "operation": "ResumeCluster", "times": 1}"#,
    )
    .await;
    let (now, refusal) = wake_like_the_function(&redshift, &s3, "run-a").await;
    // The SDK's retry waited its backoff: the cluster may be up already.
    assert!(now == "resuming" || now == "available", "{now}");
    assert_eq!(refusal, Some(("InvalidClusterState".to_owned(), 400)));
    assert_eq!(cluster_report(&env).await["resumes"], 1);
    assert!(marker_is_there(&s3).await);
    until_status(&redshift, "available").await;
    assert_eq!(sleep_like_the_last_out(&redshift, &s3).await, "paused");
    until_status(&redshift, "paused").await;
    assert_eq!(
        cluster_report(&env).await,
        serde_json::json!({"status": "paused", "pauses": 2, "resumes": 1})
    );
}

/// `available, prep-for-resize` and `available, resize-cleanup` (fault `resize`): "the cluster
/// is running and available for read and write queries, but cluster operations ... are not
/// available" (Management Guide, cluster status). DescribeClusters reports the status, a run's
/// statements run, PauseCluster and ResumeCluster are InvalidClusterState; then it is available.
async fn a_cluster_being_resized_takes_statements_but_not_pause_or_resume(backend: Backend) {
    use aws_sdk_redshift::error::ProvideErrorMetadata as _;
    let env = start_with_cluster_c(backend, 300).await;
    let (admin, redshift) = (env.admin(), clusters_client(&env));
    for phase in ["prep-for-resize", "resize-cleanup"] {
        arm_cluster_fault(
            &env,
            &format!(r#"{{"kind": "resize", "cluster": "c", "phase": "{phase}", "millis": 3000}}"#),
        )
        .await;
        let shown = format!("available, {phase}");
        assert_eq!(status(&redshift).await, shown);
        let described = redshift
            .describe_clusters()
            .cluster_identifier("c")
            .send()
            .await
            .unwrap();
        assert_eq!(
            described.clusters()[0].cluster_availability_status(),
            Some("Available")
        );
        assert_eq!(
            env.rows(&admin, On::Cluster, "SELECT 1").await.unwrap(),
            [["1"]]
        );
        let pause = redshift
            .pause_cluster()
            .cluster_identifier("c")
            .send()
            .await
            .unwrap_err();
        let resume = redshift
            .resume_cluster()
            .cluster_identifier("c")
            .send()
            .await
            .unwrap_err();
        for refused in [pause.code(), resume.code()] {
            assert_eq!(refused, Some("InvalidClusterState"), "{shown}");
        }
        until_status(&redshift, "available").await;
    }
    redshift
        .pause_cluster()
        .cluster_identifier("c")
        .send()
        .await
        .unwrap();
    assert_eq!(status(&redshift).await, "pausing");
}

/// PostgreSQL's server file, large-object and administration functions, and COPY to or from
/// anything but S3, are not Redshift's: each fails naming what was refused, before PostgreSQL
/// (on the binaries backend, a superuser) could reach the machine's files. Redshift's own system
/// administration functions (CURRENT_SETTING, SET_CONFIG, PG_CANCEL_BACKEND, ...) still run.
async fn server_files_programs_and_admin_functions_are_refused(backend: Backend) {
    let env = start(backend).await;
    let admin = env.admin();
    env.run(&admin, On::Cluster, &["CREATE TABLE t (k INTEGER)"])
        .await
        .unwrap();
    let outside = env.root.join("outside-every-bucket.txt");
    std::fs::write(&outside, "a host file\n").unwrap();
    let outside = outside.display().to_string();
    let cases = [
        (format!("SELECT pg_read_file('{outside}')"), "pg_read_file"),
        (
            format!("SELECT pg_catalog.pg_read_binary_file('{outside}')"),
            "pg_read_binary_file",
        ),
        ("SELECT pg_ls_dir('.')".to_owned(), "pg_ls_dir"),
        (format!("SELECT lo_import('{outside}')"), "lo_import"),
        (
            "SELECT lo_export(1, '/tmp/redshift-local-lo')".to_owned(),
            "lo_export",
        ),
        ("SELECT pg_reload_conf()".to_owned(), "pg_reload_conf"),
        (
            format!("SELECT query_to_xml('SELECT pg_read_file(''{outside}'')', true, true, '')"),
            "query_to_xml",
        ),
        (
            "COPY t FROM PROGRAM 'id'".to_owned(),
            "COPY ... FROM PROGRAM",
        ),
        (
            "COPY t TO '/tmp/redshift-local-copy-to'".to_owned(),
            "COPY ... TO",
        ),
        (
            format!("COPY t FROM '{outside}' FORMAT AS JSON 'auto'"),
            outside.as_str(),
        ),
    ];
    for (sql, named) in &cases {
        let error = env
            .run(&admin, On::Cluster, &[sql.as_str()])
            .await
            .unwrap_err();
        assert!(
            error.contains(named) && error.contains("not supported"),
            "{sql}: {error}"
        );
        assert!(!error.contains("a host file"), "{sql}: {error}");
    }
    assert!(!Path::new("/tmp/redshift-local-copy-to").exists());
    for sql in [
        "SELECT current_setting('datestyle')",
        "SELECT set_config('search_path', 'public', false)",
    ] {
        assert_eq!(
            env.rows(&admin, On::Cluster, sql).await.unwrap().len(),
            1,
            "{sql}"
        );
    }
}

mod embedded {
    crate::on!(Embedded:
        a_served_cluster_pauses_and_resumes_and_takes_no_queries_in_between,
        each_iam_role_is_its_own_database_user_and_only_the_owner_may_use_a_table,
        db_user_and_secrets_sign_in_as_their_user,
        load_errors_are_visible_to_their_user_with_redshifts_columns,
        roles_give_readers_what_the_owner_grants_and_syslog_access_shows_every_load,
        copy_reads_s3_in_one_region_and_a_bucket_elsewhere_redirects,
        copy_fails_where_redshift_documents_it_fails,
        the_data_apis_limits_and_shapes_are_aws_s,
        sql_redshift_does_not_run_fails_naming_the_construct,
        varchar_lengths_are_bytes_in_every_write,
        two_runs_waking_a_paused_cluster_at_once_resume_it_once_and_the_last_pauses_it,
        a_resume_whose_answer_is_lost_is_retried_refused_and_the_cluster_paused_after_the_run,
        a_cluster_being_resized_takes_statements_but_not_pause_or_resume,
        server_files_programs_and_admin_functions_are_refused,
    );
}

mod binaries {
    crate::on!(Binaries:
        each_iam_role_is_its_own_database_user_and_only_the_owner_may_use_a_table,
        load_errors_are_visible_to_their_user_with_redshifts_columns,
        roles_give_readers_what_the_owner_grants_and_syslog_access_shows_every_load,
        writers_of_two_tables_in_opposite_orders_deadlock,
        isolation_follows_the_target,
        server_files_programs_and_admin_functions_are_refused,
    );
}
