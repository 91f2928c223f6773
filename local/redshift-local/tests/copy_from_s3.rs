//! COPY through the real `aws-sdk-redshiftdata` client: each option on files served by the local
//! S3, and every rejected record read back from the load-error views with its reason.

mod common;

use aws_sdk_redshiftdata::Client;
use aws_sdk_redshiftdata::types::{Field, StatusString};
use common::{Backend, Server, write};
use redshift_local::Running;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Env {
    _local: Running,
    client: Client,
    root: PathBuf,
    /// Last, so the stand-in is told to stop before the server's stop waits (`common::Server`).
    _postgres: Server,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A bucket `test-bucket` with one folder per case.
fn bucket(root: &Path) {
    write(
        root,
        "test-bucket/auto/1.json",
        b"{\"id\": 1, \"name\": \"ab\"}\n{\"id\": 2, \"name\": null}",
    );
    write(
        root,
        "test-bucket/case/1.json",
        b"{\"ID\": 3, \"Name\": \"cd\"}",
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"{\"id\": 4, \"name\": \"gz\"}\n{\"id\": 5, \"name\": \"gz\"}")
        .unwrap();
    write(root, "test-bucket/gzip/1.json.gz", &gz.finish().unwrap());
    write(
        root,
        "test-bucket/manifest.json",
        br#"{"entries": [{"url": "s3://test-bucket/auto/1.json", "mandatory": true}, {"url": "s3://test-bucket/gone.json", "mandatory": false}]}"#,
    );
    write(
        root,
        "test-bucket/strict-manifest.json",
        br#"{"entries": [{"url": "s3://test-bucket/gone.json", "mandatory": true}]}"#,
    );
    write(
        root,
        "test-bucket/paths.json",
        br#"{"jsonpaths": ["$['user']['id']", "$.label", "$.when"]}"#,
    );
    write(
        root,
        "test-bucket/nested/1.json",
        br#"{"user": {"id": 6}, "label": 7, "when": 1541105830796}"#,
    );
    write(
        root,
        "test-bucket/bad/1.json",
        b"{\"id\": 10, \"name\": \"ok\"}\n{\"id\": 11, \"name\": \n{\"id\": \"12a\"}\n{\"id\": 13, \"name\": \"toolong\"}\n{\"name\": \"x\"}\n{\"id\": 15, \"at\": \"not a time\"}\n{\"id\": 16, \"name\": \"  \"}",
    );
}

async fn start(backend: Backend) -> Env {
    let root = std::env::temp_dir().join(format!(
        "redshift-local-s3-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    bucket(&root);
    let (postgres, mut config) = common::server(backend);
    config.s3_roots = vec![root.clone()];
    let local = redshift_local::start(config)
        .await
        .expect("stand-in starts");
    let env = Env {
        _postgres: postgres,
        client: common::client(local.data_api_url()),
        _local: local,
        root,
    };
    let (status, error) = env
        .batch(&[
            "CREATE TABLE t (id INTEGER NOT NULL, name VARCHAR(4), at TIMESTAMP) DISTSTYLE EVEN",
        ])
        .await;
    assert_eq!(status, StatusString::Finished, "{error:?}");
    env
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

impl Env {
    /// Runs a batch to its end; returns the final status and error.
    async fn batch(&self, sqls: &[&str]) -> (StatusString, Option<String>) {
        let (status, error, _) = common::batch_to_end(&self.client, sqls).await;
        (status, error)
    }

    async fn copy(&self, options: &str) -> (StatusString, Option<String>) {
        self.batch(&[&format!("COPY t FROM {options}")]).await
    }

    /// Every row of a query, each field shown as text.
    async fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        let id = self
            .client
            .execute_statement()
            .cluster_identifier("local")
            .database("dev")
            .db_user("etl")
            .sql(sql)
            .send()
            .await
            .unwrap()
            .id
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self
            .client
            .describe_statement()
            .id(&id)
            .send()
            .await
            .unwrap()
            .status
            != Some(StatusString::Finished)
        {
            assert!(Instant::now() < deadline, "{sql} did not finish");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let result = self
            .client
            .get_statement_result()
            .id(&id)
            .send()
            .await
            .unwrap();
        result
            .records()
            .iter()
            .map(|row| {
                row.iter()
                    .map(|field| match field {
                        Field::LongValue(n) => n.to_string(),
                        Field::StringValue(s) => s.clone(),
                        Field::IsNull(_) => "NULL".into(),
                        other => format!("{other:?}"),
                    })
                    .collect()
            })
            .collect()
    }

    async fn ids(&self) -> Vec<String> {
        self.rows("SELECT id FROM t ORDER BY id")
            .await
            .into_iter()
            .map(|r| r[0].clone())
            .collect()
    }
}

async fn each_copy_option_loads_what_the_documentation_says(backend: Backend) {
    let env = start(backend).await;
    assert_eq!(env.copy("'s3://test-bucket/auto/' IAM_ROLE 'arn:aws:iam::1:role/r' REGION 'us-west-2' FORMAT AS JSON 'auto' COMPUPDATE OFF STATUPDATE OFF").await.0, StatusString::Finished);
    assert_eq!(env.ids().await, ["1", "2"]);

    // 'auto' matches keys case-sensitively: upper-case keys load nothing but the NOT NULL id fails.
    let (status, error) = env.copy("'s3://test-bucket/case/' JSON 'auto'").await;
    assert_eq!(status, StatusString::Failed, "{error:?}");
    assert_eq!(
        env.copy("'s3://test-bucket/case/' CREDENTIALS 'aws_iam_role=x' JSON 'auto ignorecase'")
            .await
            .0,
        StatusString::Finished
    );
    assert_eq!(
        env.copy("'s3://test-bucket/gzip/' JSON 'auto' GZIP")
            .await
            .0,
        StatusString::Finished
    );
    assert_eq!(env.ids().await, ["1", "2", "3", "4", "5"]);

    assert_eq!(
        env.copy("'s3://test-bucket/manifest.json' JSON 'auto' MANIFEST")
            .await
            .0,
        StatusString::Finished
    );
    assert_eq!(
        env.ids().await.len(),
        7,
        "the manifest's one present file, again"
    );
    let (status, error) = env
        .copy("'s3://test-bucket/strict-manifest.json' JSON 'auto' MANIFEST")
        .await;
    assert_eq!(status, StatusString::Failed);
    assert!(error.unwrap().contains("mandatory"));

    assert_eq!(
        env.copy("'s3://test-bucket/nested/' JSON 's3://test-bucket/paths.json' TIMEFORMAT 'epochmillisecs'")
            .await
            .0,
        StatusString::Finished
    );
    assert_eq!(
        env.rows("SELECT id, name, at FROM t WHERE id = 6").await,
        [["6", "7", "2018-11-01 20:57:10.796"]],
        "JSONPaths fill columns by position; a number loads into VARCHAR as its text; epoch ms to a timestamp"
    );

    let (status, error) = env
        .copy("'s3://test-bucket/nothing-here/' JSON 'auto'")
        .await;
    assert_eq!(status, StatusString::Failed);
    assert_eq!(
        error.as_deref(),
        Some("ERROR: The specified S3 prefix 'nothing-here/' does not exist")
    );
}

async fn rejected_records_are_recorded_with_their_reasons_and_maxerror_decides(backend: Backend) {
    let env = start(backend).await;
    let (status, error) = env
        .copy("'s3://test-bucket/bad/' JSON 'auto' MAXERROR 10 BLANKSASNULL")
        .await;
    assert_eq!(status, StatusString::Finished, "{error:?}");
    assert_eq!(
        env.ids().await,
        ["10", "16"],
        "good records load; a blank string is NULL with BLANKSASNULL"
    );
    let errors = env
        // Redshift's STL_LOAD_ERRORS columns are character(n): padded, so trimmed to compare.
        .rows("SELECT TRIM(filename), line_number, TRIM(colname), err_code, TRIM(err_reason) FROM stl_load_errors ORDER BY line_number")
        .await;
    let summary: Vec<(String, String, String)> = errors
        .iter()
        .map(|r| (r[1].clone(), r[2].clone(), r[3].clone()))
        .collect();
    let expected = [
        ("2", "", "1216"),
        ("3", "id", "1207"),
        ("4", "name", "1204"),
        ("5", "id", "1213"),
        ("6", "at", "1206"),
    ];
    assert_eq!(
        summary,
        expected
            .iter()
            .map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into()))
            .collect::<Vec<_>>()
    );
    assert!(errors.iter().all(|r| r[0] == "s3://test-bucket/bad/1.json"));
    assert_eq!(errors[2][4], "String length exceeds DDL length");
    let detail = env.rows("SELECT COUNT(*) FROM sys_load_error_detail").await;
    assert_eq!(detail, [["5"]]);

    // TRUNCATECOLUMNS loads the long name cut to its byte length.
    env.copy("'s3://test-bucket/bad/' JSON 'auto' MAXERROR 10 TRUNCATECOLUMNS")
        .await;
    assert_eq!(
        env.rows("SELECT name FROM t WHERE id = 13").await,
        [["tool"]]
    );

    // More rejects than MAXERROR fail the COPY and roll back its whole batch; the load errors stay.
    let (status, error) = env
        .batch(&[
            "INSERT INTO t (id) VALUES (99)",
            "COPY t FROM 's3://test-bucket/bad/' JSON 'auto' MAXERROR 2",
        ])
        .await;
    assert_eq!(status, StatusString::Failed);
    assert_eq!(
        error.as_deref(),
        Some(
            "ERROR: Load into table 't' failed. Check 'stl_load_errors' system table for details."
        )
    );
    assert!(
        env.rows("SELECT id FROM t WHERE id = 99").await.is_empty(),
        "the batch rolled back"
    );
    assert_eq!(
        env.rows("SELECT COUNT(*) FROM stl_load_errors").await,
        [["14"]],
        "5 + 4 + 5 recorded"
    );
}

mod embedded {
    crate::on!(Embedded: each_copy_option_loads_what_the_documentation_says, rejected_records_are_recorded_with_their_reasons_and_maxerror_decides);
}

mod binaries {
    crate::on!(Binaries: each_copy_option_loads_what_the_documentation_says, rejected_records_are_recorded_with_their_reasons_and_maxerror_decides);
}
