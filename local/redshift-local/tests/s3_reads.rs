//! COPY reads the buckets the stand-in serves in its own process, and any other S3 endpoint
//! through `aws-sdk-s3` over HTTP (`s3::Buckets`, `copy/source.rs`). The two must be one
//! behaviour: every COPY below runs on a stand-in serving the buckets, and on a second stand-in
//! reading the same buckets through the first one's S3 endpoint; each must load the same rows,
//! fail with the same error, and make the same S3 requests of the first one's counters.

mod common;

use aws_sdk_redshiftdata::types::{Field, StatusString};
use common::{Backend, Server, write};
use redshift_local::Running;
use serde_json::Value;
use std::path::{Path, PathBuf};

struct Env {
    /// Serves the buckets; its COPY reads them in this process.
    served: Running,
    /// Reads them through `served`'s S3 endpoint.
    endpoint: Running,
    root: PathBuf,
    /// Last, so each stand-in is told to stop before its server's stop waits.
    _postgres: (Server, Server),
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// `home` in the warehouse's region, `away` in another; rows, manifests and a JSONPaths file.
fn buckets(root: &Path) {
    write(root, "home/rows/1.json", br#"{"id": 1, "name": "a"}"#);
    write(
        root,
        "home/rows/2.json",
        b"{\"id\": 2, \"name\": \"b\"}\n{\"id\": 3, \"name\": \"toolong\"}",
    );
    std::fs::create_dir_all(root.join("home/rows/empty-folder")).unwrap();
    // More keys than one ListObjectsV2 page holds.
    for n in 0..1001 {
        write(
            root,
            &format!("home/many/{n:04}.json"),
            format!("{{\"id\": {n}}}").as_bytes(),
        );
    }
    write(
        root,
        "home/nested/1.json",
        br#"{"who": {"id": 4, "name": "d"}}"#,
    );
    write(
        root,
        "home/paths.json",
        br#"{"jsonpaths": ["$.who.id", "$.who.name"]}"#,
    );
    write(root, "away/rows/1.json", br#"{"id": 5, "name": "e"}"#);
    // A key that SigV4 must encode on the way to the endpoint.
    write(
        root,
        "home/odd/a b+\u{fc}=%.json",
        br#"{"id": 6, "name": "f"}"#,
    );
    let manifest = |name: &str, entries: &str| {
        write(
            root,
            &format!("home/manifests/{name}.json"),
            format!("{{\"entries\": [{entries}]}}").as_bytes(),
        );
    };
    manifest(
        "skips-the-optional",
        r#"{"url": "s3://home/rows/1.json", "mandatory": true}, {"url": "s3://home/gone.json"}"#,
    );
    manifest(
        "mandatory-missing",
        r#"{"url": "s3://home/gone.json", "mandatory": true}"#,
    );
    manifest("none-found", r#"{"url": "s3://home/gone.json"}"#);
    manifest("a-folder", r#"{"url": "s3://home/rows/empty-folder"}"#);
    manifest("no-such-bucket", r#"{"url": "s3://nowhere/rows/1.json"}"#);
    manifest(
        "leaves-its-bucket",
        r#"{"url": "s3://home/rows/../../away/rows/1.json"}"#,
    );
    manifest("in-another-region", r#"{"url": "s3://away/rows/1.json"}"#);
    manifest(
        "a-slash-after-a-file",
        r#"{"url": "s3://home/rows/1.json/", "mandatory": true}"#,
    );
    manifest(
        "a-key-under-a-file",
        r#"{"url": "s3://home/rows/1.json/x", "mandatory": true}"#,
    );
    manifest("no-key", r#"{"url": "s3://home/"}"#);
}

async fn start(backend: Backend) -> Env {
    let root = std::env::temp_dir().join(format!(
        "redshift-local-s3-reads-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    buckets(&root.join("first"));
    // A second root: a bucket of its own, and a bucket that is a link to a folder of the first.
    write(
        &root.join("second"),
        "other/rows/1.json",
        br#"{"id": 7, "name": "g"}"#,
    );
    std::os::unix::fs::symlink(root.join("first/home"), root.join("second/linked")).unwrap();
    let (served_postgres, mut config) = common::server(backend);
    config.s3_roots = vec![root.join("first"), root.join("second")];
    config
        .regions
        .buckets
        .insert("away".into(), "eu-west-1".into());
    let served = redshift_local::start(config)
        .await
        .expect("stand-in starts");
    let (endpoint_postgres, mut config) = common::server(backend);
    config.s3_endpoint = served.s3_url();
    let endpoint = redshift_local::start(config)
        .await
        .expect("stand-in starts");
    Env {
        served,
        endpoint,
        root,
        _postgres: (served_postgres, endpoint_postgres),
    }
}

/// What one COPY did: its status and error, the table's rows after it, and the S3 requests it
/// made of the serving stand-in, by kind.
#[derive(Debug, PartialEq)]
struct Outcome {
    status: StatusString,
    error: Option<String>,
    rows: Vec<Vec<String>>,
    requests: Value,
}

async fn copy(stand_in: &Running, served: &Running, options: &str) -> Outcome {
    let client = common::client(stand_in.data_api_url());
    let (status, error, _) = common::batch_to_end(
        &client,
        &[
            "CREATE TABLE IF NOT EXISTS r (id INTEGER NOT NULL, name VARCHAR(4))",
            "DELETE FROM r",
        ],
    )
    .await;
    assert_eq!(status, StatusString::Finished, "{error:?}");
    let before = served.requests.report()["s3_by"]["copy"].clone();
    let (status, error, _) =
        common::batch_to_end(&client, &[&format!("COPY r FROM {options}")]).await;
    let after = served.requests.report()["s3_by"]["copy"].clone();
    let requests: serde_json::Map<String, Value> = after
        .as_object()
        .into_iter()
        .flatten()
        .map(|(kind, n)| {
            let was = before.get(kind).and_then(Value::as_u64).unwrap_or(0);
            (kind.clone(), Value::from(n.as_u64().unwrap() - was))
        })
        .filter(|(_, n)| n != &Value::from(0))
        .collect();
    let (_, _, id) = common::batch_to_end(&client, &["SELECT id, name FROM r ORDER BY id"]).await;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .get_statement_result()
            .id(format!("{id}:1"))
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        rows.extend(page.records().iter().map(|row| {
            row.iter()
                .map(|field| match field {
                    Field::LongValue(n) => n.to_string(),
                    Field::StringValue(s) => s.clone(),
                    Field::IsNull(_) => "NULL".into(),
                    other => format!("{other:?}"),
                })
                .collect()
        }));
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    Outcome {
        status,
        error,
        rows,
        requests: Value::Object(requests),
    }
}

/// Every COPY, and what it must end with: loaded, or failed with these words in its error.
const CASES: &[(&str, Result<(), &str>)] = &[
    // A prefix: every object under it, a rejected record within MAXERROR; past MAXERROR.
    ("'s3://home/rows/' FORMAT AS JSON 'auto' MAXERROR 2", Ok(())),
    (
        "'s3://home/rows/' FORMAT AS JSON 'auto'",
        Err("Load into table 'r' failed"),
    ),
    // Two pages of keys; a key the signature must encode; a second root; a linked bucket.
    ("'s3://home/many/' FORMAT AS JSON 'auto'", Ok(())),
    ("'s3://home/odd/' FORMAT AS JSON 'auto'", Ok(())),
    ("'s3://other/rows/' FORMAT AS JSON 'auto'", Ok(())),
    (
        "'s3://linked/rows/' FORMAT AS JSON 'auto' MAXERROR 2",
        Ok(()),
    ),
    // A bucket in another region: 301 without REGION, loaded with it; a REGION that is none.
    (
        "'s3://away/rows/' FORMAT AS JSON 'auto'",
        Err("Status 301,Error PermanentRedirect"),
    ),
    (
        "'s3://away/rows/' REGION 'eu-west-1' FORMAT AS JSON 'auto'",
        Ok(()),
    ),
    (
        "'s3://home/rows/' REGION 'eu-west-1' FORMAT AS JSON 'auto'",
        Err("Status 301,Error PermanentRedirect"),
    ),
    (
        "'s3://home/rows/' REGION 'us-east-2!' FORMAT AS JSON 'auto'",
        Err("is not an AWS Region"),
    ),
    // Nothing under the prefix; no such bucket; a prefix that leaves its bucket.
    (
        "'s3://home/nothing-here/' FORMAT AS JSON 'auto'",
        Err("prefix 'nothing-here/' does not exist"),
    ),
    (
        "'s3://nowhere/rows/' FORMAT AS JSON 'auto'",
        Err("Status 404,Error NoSuchBucket"),
    ),
    (
        "'s3://home/../away/rows/' FORMAT AS JSON 'auto'",
        Err("Status 400,Error InvalidArgument"),
    ),
    // Manifests.
    (
        "'s3://home/manifests/skips-the-optional.json' FORMAT AS JSON 'auto' MANIFEST",
        Ok(()),
    ),
    (
        "'s3://home/manifests/mandatory-missing.json' FORMAT AS JSON 'auto' MANIFEST",
        Err("code 1212"),
    ),
    (
        "'s3://home/manifests/none-found.json' FORMAT AS JSON 'auto' MANIFEST",
        Err("COPY found no files"),
    ),
    (
        "'s3://home/manifests/a-folder.json' FORMAT AS JSON 'auto' MANIFEST",
        Err("COPY found no files"),
    ),
    (
        "'s3://home/manifests/a-slash-after-a-file.json' FORMAT AS JSON 'auto' MANIFEST",
        Err("code 1212"),
    ),
    (
        "'s3://home/manifests/a-key-under-a-file.json' FORMAT AS JSON 'auto' MANIFEST",
        Err("code 1212"),
    ),
    (
        "'s3://home/manifests/no-key.json' FORMAT AS JSON 'auto' MANIFEST",
        Err("names no object"),
    ),
    (
        "'s3://home/manifests/no-such-bucket.json' FORMAT AS JSON 'auto' MANIFEST",
        Err("Status 404,Error NoSuchBucket"),
    ),
    (
        "'s3://home/manifests/leaves-its-bucket.json' FORMAT AS JSON 'auto' MANIFEST",
        Err("Status 400,Error InvalidArgument"),
    ),
    (
        "'s3://home/manifests/in-another-region.json' FORMAT AS JSON 'auto' MANIFEST",
        Err("Status 301,Error PermanentRedirect"),
    ),
    (
        "'s3://home/manifests/gone.json' FORMAT AS JSON 'auto' MANIFEST",
        Err("Status 404,Error NoSuchKey"),
    ),
    // A JSONPaths file; one that is not there.
    (
        "'s3://home/nested/' FORMAT AS JSON 's3://home/paths.json'",
        Ok(()),
    ),
    (
        "'s3://home/nested/' FORMAT AS JSON 's3://home/gone.json'",
        Err("Status 404,Error NoSuchKey"),
    ),
];

async fn copy_reads_the_served_buckets_as_it_reads_an_s3_endpoint(backend: Backend) {
    let env = start(backend).await;
    for (options, expected) in CASES {
        let connections = env.served.s3_connections();
        let served = copy(&env.served, &env.served, options).await;
        assert_eq!(
            env.served.s3_connections(),
            connections,
            "{options}: the serving stand-in's COPY used its HTTP endpoint"
        );
        let endpoint = copy(&env.endpoint, &env.served, options).await;
        match expected {
            Ok(()) => {
                assert_eq!(
                    served.status,
                    StatusString::Finished,
                    "{options}: {served:?}"
                );
                assert!(!served.rows.is_empty(), "{options}: {served:?}");
            }
            Err(words) => {
                assert_eq!(served.status, StatusString::Failed, "{options}: {served:?}");
                let error = served.error.as_deref().unwrap_or("");
                assert!(error.contains(words), "{options}: {error}");
            }
        }
        if options.contains("/many/") {
            assert_eq!(served.rows.len(), 1001);
            assert_eq!(served.requests, serde_json::json!({"GET": 1001, "LIST": 2}));
        }
        assert_eq!(
            served, endpoint,
            "{options}: in this process, then over HTTP"
        );
    }
}

mod embedded {
    crate::on!(Embedded: copy_reads_the_served_buckets_as_it_reads_an_s3_endpoint);
}
