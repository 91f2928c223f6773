//! The floor `./dev bench` measures the local pipeline against: the same rows of a bucket folder
//! bulk-loaded with `COPY ... FROM STDIN`, and the pipeline's own SQL after its COPYs (a log
//! round's tags, a song round's publishing, `sql/facts/`, `sql/dimensions/`) run directly, on the same embedded
//! PostgreSQL redshift-local runs on. No
//! Data API, S3, function or state machine in between; the JSON is converted to rows by
//! redshift-local's COPY rules before the clock starts.
//!
//! usage: cargo run -p end-to-end --example floor -- BUCKET_DIR
//! prints one JSON object: seconds per phase and the star tables' row counts.

use bytes::Bytes;
use redshift_local::backend::{self, ResultSet};
use redshift_local::copy::{self, CopyCommand};
use redshift_local::dialect;
use redshift_local::embedded::EmbeddedPostgres;
use serde_json::{Value, json};
use sparkify::sql::{
    BucketName, Codec, IamRoleArn, Literal, Region, RunId, S3Key, SqlFile, catalogue, render,
    render_for_run,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokio_postgres::{Client, NoTls};

type Failure = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let bucket_dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: floor BUCKET_DIR")?);
    let bucket = BucketName::parse(
        bucket_dir
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or("BUCKET_DIR has no name")?,
    )?;
    let run = RunId::from_execution("floor")?;
    let logs = S3Key::parse("log_data/")?;
    let postgres = EmbeddedPostgres::start()?;
    let (client, connection) = tokio_postgres::connect(postgres.url(), NoTls).await?;
    tokio::spawn(connection);
    // The planner setting redshift-local's own connections run with (its backend.rs: Redshift
    // joins by hash or merge), so that the floor plans the same SQL the same way.
    client.batch_execute("SET enable_nestloop = off").await?;
    // Redshift's VARCHAR as the stand-in makes it at start: the translated SQL names it.
    redshift_local::varchar::install(&client).await?;

    let mut seconds = serde_json::Map::new();
    let clock = Instant::now();
    for file in catalogue::CREATE_TABLES {
        execute(&client, &render(&file, &[])?).await?;
    }
    seconds.insert("create".into(), json!(clock.elapsed().as_secs_f64()));

    // Rows, by the stand-in's COPY rules, from the COPY statements the pipeline runs.
    let clock = Instant::now();
    let events = read_objects(&bucket_dir, "log_data")?;
    let songs = read_objects(&bucket_dir, "song_data")?;
    let jsonpaths = std::fs::read_to_string(bucket_dir.join("log_json_path.json"))?;
    let copy_of = |file: &SqlFile, table: &str| -> Result<CopyCommand, Failure> {
        let sql = render(
            file,
            &[
                ("manifest", uri(&bucket, "manifest")?),
                (
                    "copy_role_arn",
                    Literal::role(&IamRoleArn::parse("arn:aws:iam::123456789012:role/floor")?),
                ),
                ("region", Literal::region(&Region::parse("us-west-2")?)),
                ("jsonpaths", uri(&bucket, "log_json_path.json")?),
                ("compression", Literal::compression(Codec::Plain)),
                ("max_errors", Literal::count(0)),
            ]
            .into_iter()
            .filter(|(name, _)| file.text.contains(&format!("{{{{{name}}}}}")))
            .collect::<Vec<_>>(),
        )?;
        let mut command = copy::parse(&sql)?.ok_or("not a COPY")?;
        command.table = table.into();
        Ok(command)
    };
    let events_copy = copy_of(&catalogue::COPY_STAGING_EVENTS, "staging_events")?;
    let songs_copy = copy_of(&catalogue::COPY_STAGING_SONGS, "staging_songs")?;
    // A song round COPYs into its private table, then publishes from it.
    execute(&client, &render(&catalogue::SONGS_LOAD_CREATE, &[])?).await?;
    // A log round COPYs each object into its private table, then tags the object's rows.
    execute(&client, &render(&catalogue::EVENTS_LOAD_CREATE, &[])?).await?;
    let mut event_objects = Vec::new();
    let mut event_columns = Vec::new();
    for (key, raw) in &events {
        let object = [(format!("s3://{}/{key}", bucket.as_str()), raw.clone())];
        let (rows, columns, rejects) =
            copy::convert_objects(&client, &events_copy, Some(&jsonpaths), &object).await?;
        if !rejects.is_empty() {
            return Err(format!("{key}: {} rejects", rejects.len()).into());
        }
        event_objects.push((key, rows));
        event_columns = columns;
    }
    let song_objects: Vec<(String, Vec<u8>)> = songs
        .into_iter()
        .map(|(key, raw)| (format!("s3://{}/{key}", bucket.as_str()), raw))
        .collect();
    let (song_rows, song_columns, rejects) =
        copy::convert_objects(&client, &songs_copy, None, &song_objects).await?;
    if !rejects.is_empty() {
        return Err(format!("songs: {} rejects", rejects.len()).into());
    }
    // The objects the ledger records (its ETag column is not what is measured here).
    let mut files_rows = String::new();
    for (key, raw) in &events {
        files_rows.push_str(&format!(
            "{}\t{key}\tevents\tfloor\t{}\t2018-12-01 00:00:00\n",
            run.as_str(),
            raw.len()
        ));
    }
    seconds.insert("convert".into(), json!(clock.elapsed().as_secs_f64()));

    let clock = Instant::now();
    let event_columns: Vec<&str> = event_columns.iter().map(String::as_str).collect();
    let song_columns: Vec<&str> = song_columns.iter().map(String::as_str).collect();
    let file_columns = [
        "run_id",
        "object_key",
        "kind",
        "etag",
        "size_bytes",
        "staged_at",
    ];
    let mut tags = Vec::with_capacity(event_objects.len() + 1);
    for (key, rows) in event_objects {
        copy::copy_from_stdin(&client, "events_load", &event_columns, rows).await?;
        tags.push(render(
            &catalogue::EVENTS_LOAD_TAG,
            &[
                ("run", Literal::run(&run)),
                ("object_key", Literal::key(&S3Key::parse(key)?)),
            ],
        )?);
    }
    tags.push(render(&catalogue::EVENTS_STAGE, &[])?);
    copy::copy_from_stdin(&client, "songs_load", &song_columns, song_rows).await?;
    copy::copy_from_stdin(
        &client,
        "staging_files",
        &file_columns,
        Bytes::from(files_rows),
    )
    .await?;
    seconds.insert(
        "copy_from_stdin".into(),
        json!(clock.elapsed().as_secs_f64()),
    );

    // What a log round does after each COPY: tag the object's rows; then stage them.
    let clock = Instant::now();
    transaction(&client, &tags).await?;
    seconds.insert("events".into(), json!(clock.elapsed().as_secs_f64()));
    for (phase, files) in [
        ("songs", &catalogue::SONGS_PUBLISH[..]),
        ("facts", &catalogue::LOAD_FACTS[..]),
        ("dimensions", &catalogue::LOAD_DIMENSIONS[..]),
    ] {
        let clock = Instant::now();
        transaction(&client, &render_for_run(files, &run, &logs)?).await?;
        seconds.insert(phase.into(), json!(clock.elapsed().as_secs_f64()));
    }

    let table_counts = catalogue::VERIFY
        .into_iter()
        .find(|file| file.path == "verify/table_counts.sql")
        .ok_or("no verify/table_counts.sql")?;
    let counts = query(&client, &render_for_run(&[table_counts], &run, &logs)?[0]).await?;
    let rows: serde_json::Map<String, Value> = counts
        .rows
        .iter()
        .map(|row| (text(&row[0]), plain(&row[1])))
        .collect();
    println!("{}", json!({"seconds": seconds, "rows": rows}));
    Ok(())
}

fn uri(bucket: &BucketName, key: &str) -> Result<Literal, Failure> {
    Ok(Literal::s3_uri(bucket, &S3Key::parse(key)?))
}

/// A Data API field (`{"stringValue": "songs"}`) as its plain value.
fn plain(field: &Value) -> Value {
    field
        .as_object()
        .and_then(|object| object.values().next())
        .cloned()
        .unwrap_or(Value::Null)
}

fn text(field: &Value) -> String {
    match plain(field) {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

/// Every `.json` object under `prefix`, as (key, bytes), in key order.
fn read_objects(bucket_dir: &Path, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, Failure> {
    let mut found = Vec::new();
    let mut folders = vec![bucket_dir.join(prefix)];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let key = path
                    .strip_prefix(bucket_dir)?
                    .to_str()
                    .ok_or("a key that is not UTF-8")?
                    .replace('\\', "/");
                found.push((key, std::fs::read(&path)?));
            }
        }
    }
    found.sort();
    Ok(found)
}

async fn execute(client: &Client, sql: &str) -> Result<i64, Failure> {
    let translated = dialect::translate(sql, &HashMap::new())?;
    Ok(backend::run(client, &translated).await?.rows)
}

async fn query(client: &Client, sql: &str) -> Result<ResultSet, Failure> {
    let translated = dialect::translate(sql, &HashMap::new())?;
    backend::run(client, &translated)
        .await?
        .result
        .ok_or_else(|| "no result set".into())
}

/// A step's batch, as the Data API runs one: every statement in one transaction.
async fn transaction(client: &Client, sqls: &[String]) -> Result<(), Failure> {
    client.batch_execute("BEGIN").await?;
    for sql in sqls {
        if let Err(err) = execute(client, sql).await {
            client.batch_execute("ROLLBACK").await?;
            return Err(err);
        }
    }
    client.batch_execute("COMMIT").await?;
    Ok(())
}
