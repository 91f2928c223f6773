//! The local Data API through the real `aws-sdk-redshiftdata` client over HTTP. Every test runs
//! on both backends: the embedded default (PostgreSQL 17.5 in WASM) and a real PostgreSQL 15
//! started from the machine's server binaries, as an external server is used.

mod common;

use aws_sdk_redshiftdata::Client;
use aws_sdk_redshiftdata::error::ProvideErrorMetadata;
use aws_sdk_redshiftdata::types::{Field, SqlParameter, StatusString};
use common::{Backend, Server};
use redshift_local::Running;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Env {
    local: Running,
    client: Client,
    /// Last, so the stand-in is told to stop before the server's stop waits (`common::Server`).
    _postgres: Server,
}

async fn start_with(backend: Backend, page_rows: usize) -> Env {
    start_tuned(backend, |config| config.page_rows = page_rows).await
}

async fn start_tuned(backend: Backend, tune: impl FnOnce(&mut redshift_local::LocalConfig)) -> Env {
    let (postgres, mut config) = common::server(backend);
    tune(&mut config);
    let local = redshift_local::start(config)
        .await
        .expect("stand-in starts");
    Env {
        _postgres: postgres,
        client: common::client(local.data_api_url()),
        local,
    }
}

/// A query that runs for minutes, in SQL Redshift runs (it has no sleep function).
const SLOW: &str = "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 2000000000) SELECT COUNT(*) FROM s";

async fn start(backend: Backend) -> Env {
    start_with(backend, 1000).await
}

impl Env {
    async fn execute(&self, sql: &str) -> String {
        self.client
            .execute_statement()
            .cluster_identifier("local")
            .database("dev")
            .db_user("etl")
            .sql(sql)
            .send()
            .await
            .expect("ExecuteStatement accepted")
            .id
            .expect("an id")
    }

    async fn batch(&self, sqls: &[&str]) -> String {
        // The same database user as `execute`: only a table's owner may use it.
        common::submit_batch(&self.client, sqls).await
    }

    /// Polls until the statement is final; returns every status seen, in order, without repeats.
    async fn wait(&self, id: &str) -> Vec<StatusString> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen: Vec<StatusString> = Vec::new();
        loop {
            let status = self.status(id).await;
            if seen.last() != Some(&status) {
                seen.push(status.clone());
            }
            if matches!(
                status,
                StatusString::Finished | StatusString::Failed | StatusString::Aborted
            ) {
                return seen;
            }
            assert!(Instant::now() < deadline, "statement {id} still {status:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn status(&self, id: &str) -> StatusString {
        let described = self
            .client
            .describe_statement()
            .id(id)
            .send()
            .await
            .unwrap();
        described.status.expect("a status")
    }

    /// How `sql` read table `t`: its sequential and its index scans, and the blocks it fetched,
    /// as PostgreSQL counts them for the session (`pg_stat_xact_all_tables`, whose counts are
    /// flushed only between transactions), read before and after it in the same batch.
    async fn reads_of_t(&self, sql: &str) -> (i64, i64, i64) {
        let counts = "SELECT seq_scan, COALESCE(idx_scan, 0), pg_stat_get_xact_blocks_fetched(relid) \
                      FROM pg_stat_xact_all_tables WHERE relid = to_regclass('t')";
        let id = self.batch(&[counts, sql, counts]).await;
        if self.wait(&id).await.last() != Some(&StatusString::Finished) {
            let described = self.client.describe_statement().id(&id).send().await;
            panic!("{sql}: {:?}", described.map(|d| d.error));
        }
        let mut read = Vec::new();
        for sub in [1, 3] {
            let result = self
                .client
                .get_statement_result()
                .id(format!("{id}:{sub}"))
                .send()
                .await
                .unwrap();
            match result.records()[0].as_slice() {
                [
                    Field::LongValue(seq),
                    Field::LongValue(idx),
                    Field::LongValue(blocks),
                ] => read.push((*seq, *idx, *blocks)),
                other => panic!("expected three longs, got {other:?}"),
            }
        }
        (
            read[1].0 - read[0].0,
            read[1].1 - read[0].1,
            read[1].2 - read[0].2,
        )
    }

    async fn single_long(&self, sql: &str) -> i64 {
        let id = self.execute(sql).await;
        if self.wait(&id).await.last() != Some(&StatusString::Finished) {
            let described = self.client.describe_statement().id(&id).send().await;
            panic!("{sql}: {:?}", described.map(|d| d.error));
        }
        let result = self
            .client
            .get_statement_result()
            .id(&id)
            .send()
            .await
            .unwrap();
        match result.records()[0].as_slice() {
            [Field::LongValue(n)] => *n,
            other => panic!("expected one long, got {other:?}"),
        }
    }
}

async fn a_query_returns_typed_records_and_column_metadata(backend: Backend) {
    let env = start(backend).await;
    let id = env
        .execute(
            "SELECT 1 AS one, CAST('x' AS VARCHAR(8)) AS s, CAST(2.5 AS DOUBLE PRECISION) AS d, \
             CAST(NULL AS INTEGER) AS n, TRUE AS b, TIMESTAMP '2018-11-01 21:01:46.796' AS t, \
             CAST(12.50 AS NUMERIC(6, 2)) AS m",
        )
        .await;
    assert_eq!(env.wait(&id).await.last(), Some(&StatusString::Finished));
    let described = env
        .client
        .describe_statement()
        .id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(described.result_rows(), 1);
    assert_eq!(described.has_result_set(), Some(true));
    let result = env
        .client
        .get_statement_result()
        .id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        result.records()[0],
        vec![
            Field::LongValue(1),
            Field::StringValue("x".into()),
            Field::DoubleValue(2.5),
            Field::IsNull(true),
            Field::BooleanValue(true),
            Field::StringValue("2018-11-01 21:01:46.796".into()),
            Field::StringValue("12.50".into()),
        ]
    );
    let names: Vec<&str> = result
        .column_metadata()
        .iter()
        .filter_map(|c| c.name())
        .collect();
    assert_eq!(names, ["one", "s", "d", "n", "b", "t", "m"]);
    assert_eq!(result.column_metadata()[1].type_name(), Some("varchar"));
    assert_eq!(result.total_num_rows(), 1);
}

async fn a_batch_is_one_transaction_and_a_failure_rolls_back_every_sub_statement(backend: Backend) {
    let env = start(backend).await;
    let id = env.batch(&["CREATE TABLE t (a INTEGER NOT NULL)"]).await;
    assert_eq!(env.wait(&id).await.last(), Some(&StatusString::Finished));

    let id = env
        .batch(&[
            "INSERT INTO t VALUES (1)",
            "INSERT INTO t VALUES (2)",
            "INSERT INTO t VALUES (NULL)",
            "INSERT INTO t VALUES (4)",
        ])
        .await;
    assert_eq!(env.wait(&id).await.last(), Some(&StatusString::Failed));
    let described = env
        .client
        .describe_statement()
        .id(&id)
        .send()
        .await
        .unwrap();
    let subs = described.sub_statements();
    let statuses: Vec<&str> = subs.iter().map(|s| s.status().unwrap().as_str()).collect();
    assert_eq!(statuses, ["FINISHED", "FINISHED", "FAILED", "ABORTED"]);
    assert_eq!(subs[2].id(), format!("{id}:3"));
    let error = described.error().unwrap();
    assert!(
        error.starts_with("ERROR: ") && error.contains("null value"),
        "{error}"
    );
    assert_eq!(subs[2].error(), Some(error));
    assert_eq!(
        env.single_long("SELECT COUNT(*) FROM t").await,
        0,
        "nothing committed"
    );

    let id = env
        .batch(&[
            "INSERT INTO t VALUES (1)",
            "INSERT INTO t SELECT a + 1 FROM t",
        ])
        .await;
    assert_eq!(env.wait(&id).await.last(), Some(&StatusString::Finished));
    let described = env
        .client
        .describe_statement()
        .id(&id)
        .send()
        .await
        .unwrap();
    let rows: Vec<i64> = described
        .sub_statements()
        .iter()
        .map(|s| s.result_rows())
        .collect();
    assert_eq!(rows, [1, 1]);
    assert_eq!(env.single_long("SELECT COUNT(*) FROM t").await, 2);
}

async fn temporary_tables_end_with_their_statement_as_sessions_do(backend: Backend) {
    let env = start(backend).await;
    let batch = [
        "CREATE TABLE t (a INTEGER)",
        "LOCK t",
        "CREATE TEMP TABLE scratch (LIKE t)",
        "INSERT INTO scratch VALUES (1), (2)",
        "INSERT INTO t SELECT * FROM scratch",
    ];
    let id = env.batch(&batch).await;
    let ended = env.wait(&id).await;
    let error = env
        .client
        .describe_statement()
        .id(&id)
        .send()
        .await
        .unwrap()
        .error;
    assert_eq!(ended.last(), Some(&StatusString::Finished), "{error:?}");
    // A new call is a new session: the temporary table is gone and can be made again.
    let id = env
        .batch(&[
            "CREATE TEMP TABLE scratch (LIKE t)",
            "INSERT INTO scratch SELECT * FROM t",
        ])
        .await;
    assert_eq!(env.wait(&id).await.last(), Some(&StatusString::Finished));
    assert_eq!(env.single_long("SELECT COUNT(*) FROM t").await, 2);
}

/// Redshift vacuums the rows deletes leave and analyzes what changed, in the background
/// ("Automatic vacuum delete", "Automatic analyze"); the embedded PostgreSQL runs no autovacuum,
/// so the stand-in does both after the commit that passed PostgreSQL's thresholds (dead rows over
/// 50 plus a fifth of the table, written rows over 50 plus a tenth).
async fn written_tables_are_vacuumed_and_analyzed_after_the_commit_as_redshift_does_in_the_background(
    backend: Backend,
) {
    let env = start(backend).await;
    let counts = |column: &str| {
        format!("SELECT {column} FROM pg_stat_all_tables WHERE relid = to_regclass('t')")
    };
    let values: Vec<String> = (1..=1000).map(|n| format!("({n})")).collect();
    let insert = format!("INSERT INTO t VALUES {}", values.join(", "));
    let setup = env
        .batch(&["CREATE TABLE t (a INTEGER)", insert.as_str()])
        .await;
    assert_eq!(env.wait(&setup).await.last(), Some(&StatusString::Finished));
    // 1,000 rows written to a table of none: analyzed; nothing deleted: not vacuumed.
    assert_eq!(env.single_long(&counts("analyze_count")).await, 1);
    assert_eq!(env.single_long(&counts("vacuum_count")).await, 0);
    // A few rows deleted: under both thresholds, nothing to do.
    let few = env.batch(&["DELETE FROM t WHERE a <= 10"]).await;
    assert_eq!(env.wait(&few).await.last(), Some(&StatusString::Finished));
    assert_eq!(env.single_long(&counts("vacuum_count")).await, 0);
    assert_eq!(env.single_long(&counts("analyze_count")).await, 1);
    // Most rows deleted: vacuumed and analyzed once the batch committed, before it reads as
    // finished.
    let most = env.batch(&["DELETE FROM t WHERE a <= 900"]).await;
    assert_eq!(env.wait(&most).await.last(), Some(&StatusString::Finished));
    assert_eq!(env.single_long(&counts("vacuum_count")).await, 1);
    assert_eq!(env.single_long(&counts("analyze_count")).await, 2);
    assert_eq!(env.single_long("SELECT COUNT(*) FROM t").await, 100);
}

/// "The min and max values for each block are stored as part of the metadata. If a query uses a
/// range-restricted predicate, the query processor can use the min and max values to rapidly skip
/// over large numbers of blocks during table scans" ("Sort keys"), and the blocks are each
/// column's: a bound on the sort key reads through the table's zone maps, and so does a bound on
/// another column whose values came together (a load's batch, a digit that follows the key), while
/// one on a column whose values are spread over every block reads them all; each counts the same
/// rows as a whole scan would, and the rows written by a later commit are covered too.
async fn a_bound_on_a_column_reads_through_its_zone_maps(backend: Backend) {
    let env = start(backend).await;
    let digits: Vec<String> = (0..10).map(|n| format!("({n})")).collect();
    let digits = format!("INSERT INTO digits VALUES {}", digits.join(", "));
    // 10,000 rows of about 600 bytes in key order: some 6 MiB, several block ranges.
    let rows = "INSERT INTO t SELECT 'key-' || a.n || b.n || c.n || d.n, a.n, d.n, 'first', \
                REPEAT('x', 600) FROM digits a, digits b, digits c, digits d ORDER BY 1";
    let setup = env
        .batch(&[
            "CREATE TABLE digits (n INTEGER)",
            "CREATE TABLE t (k VARCHAR(16) NOT NULL, first_digit INTEGER, last_digit INTEGER, \
             batch VARCHAR(80), pad VARCHAR(1024)) DISTSTYLE ALL SORTKEY (k)",
            digits.as_str(),
            rows,
        ])
        .await;
    assert_eq!(env.wait(&setup).await.last(), Some(&StatusString::Finished));
    let pages = env.single_long("SELECT pg_relation_size('t') / 8192").await;
    assert!(pages > 500, "{pages} pages");
    let bounded = "SELECT COUNT(*) FROM t WHERE k >= 'key-0500' AND k < 'key-0600'";
    let (seq, idx, blocks) = env.reads_of_t(bounded).await;
    assert_eq!((seq, idx), (0, 1), "{blocks} blocks");
    assert!(blocks < pages / 4, "{blocks} blocks of {pages}");
    assert_eq!(env.single_long(bounded).await, 100);
    let follows = "SELECT COUNT(*) FROM t WHERE first_digit = 5";
    let (seq, idx, blocks) = env.reads_of_t(follows).await;
    assert_eq!((seq, idx), (0, 1), "{blocks} blocks");
    assert!(blocks < pages / 4, "{blocks} blocks of {pages}");
    assert_eq!(env.single_long(follows).await, 1000);
    let spread = "SELECT COUNT(*) FROM t WHERE last_digit = 5";
    let (_, _, blocks) = env.reads_of_t(spread).await;
    assert!(blocks >= pages, "{blocks} blocks of {pages}");
    assert_eq!(env.single_long(spread).await, 1000);
    // Rows a later commit writes are within the zone maps at once (Redshift writes a block's
    // with the block): a key past every earlier one, and the later batch, are found through them.
    let later = env
        .batch(&[
            "INSERT INTO t VALUES ('key-9999z', 9, 9, 'second', 'y'), ('key-0550 ', 0, 0, 'second', 'y')",
        ])
        .await;
    assert_eq!(env.wait(&later).await.last(), Some(&StatusString::Finished));
    for (newest, count) in [
        ("SELECT COUNT(*) FROM t WHERE k >= 'key-9999a'", 1),
        ("SELECT COUNT(*) FROM t WHERE batch = 'second'", 2),
    ] {
        let (seq, idx, blocks) = env.reads_of_t(newest).await;
        assert_eq!((seq, idx), (0, 1), "{newest}: {blocks} blocks");
        assert!(blocks < pages / 4, "{newest}: {blocks} blocks of {pages}");
        assert_eq!(env.single_long(newest).await, count);
    }
    // The bound compares as VARCHARs do: the trailing blank does not count.
    assert_eq!(
        env.single_long("SELECT COUNT(*) FROM t WHERE k = 'key-0550'")
            .await,
        2
    );
    assert_eq!(env.single_long(bounded).await, 101);
    // The index's name is none a table can have: a table named after it is a table like any.
    let named = env
        .batch(&[
            "CREATE TABLE t_zone_maps (a INTEGER)",
            "CREATE TABLE IF NOT EXISTS t_zone_maps (a INTEGER)",
            "DROP TABLE t_zone_maps",
            "DROP TABLE IF EXISTS t_zone_maps",
        ])
        .await;
    assert_eq!(env.wait(&named).await.last(), Some(&StatusString::Finished));
}

/// "Trailing spaces in VARCHAR and CHAR values are treated as semantically insignificant when
/// values are compared", and "Length calculations return the length of VARCHAR character strings
/// with trailing spaces included" ("Character types"); the first three counts are the example of
/// "Examples with character types". Joins, GROUP BY, DISTINCT, UNION, NULLIF, casts to VARCHAR and
/// the string functions' results follow the comparison; MD5 and `||` see every blank.
async fn varchar_comparisons_ignore_trailing_blanks_and_lengths_count_them(backend: Backend) {
    let env = start(backend).await;
    let setup = env
        .batch(&[
            "CREATE TABLE address (address_id INTEGER, address1 VARCHAR(100))",
            "INSERT INTO address VALUES (1, '9516 Magnolia Boulevard')",
            "INSERT INTO address VALUES (2, '9516 Magnolia Boulevard  ')",
            "CREATE TABLE other (address1 CHARACTER VARYING(30), note TEXT)",
            "INSERT INTO other VALUES ('9516 Magnolia Boulevard ', 'a'), ('Elm Street', 'a  ')",
        ])
        .await;
    assert_eq!(env.wait(&setup).await.last(), Some(&StatusString::Finished));
    for (sql, expected) in [
        (
            "SELECT COUNT(*) FROM address WHERE address1 = '9516 Magnolia Boulevard'",
            2,
        ),
        ("SELECT MIN(LENGTH(address1)) FROM address", 23),
        ("SELECT MAX(LENGTH(address1)) FROM address", 25),
        (
            "SELECT COUNT(*) FROM address a JOIN other o ON a.address1 = o.address1",
            2,
        ),
        (
            "SELECT COUNT(*) FROM address WHERE address1 IN (SELECT address1 FROM other)",
            2,
        ),
        (
            "SELECT COUNT(*) FROM (SELECT address1 FROM address GROUP BY address1) g",
            1,
        ),
        ("SELECT COUNT(DISTINCT address1) FROM address", 1),
        (
            "SELECT COUNT(*) FROM (SELECT DISTINCT note FROM other) d",
            1,
        ),
        (
            "SELECT COUNT(*) FROM (SELECT address1 FROM address UNION SELECT address1 FROM other) u",
            2,
        ),
        (
            "SELECT COUNT(NULLIF(address1, '9516 Magnolia Boulevard')) FROM address",
            0,
        ),
        (
            "SELECT COUNT(*) FROM address WHERE CAST(address_id AS VARCHAR) = '1 '",
            1,
        ),
        (
            "SELECT COUNT(*) FROM address WHERE LOWER(address1) = '9516 magnolia boulevard'",
            2,
        ),
        (
            "SELECT COUNT(*) FROM address WHERE SUBSTRING(address1, 6) || 'x' = 'Magnolia Boulevardx'",
            1,
        ),
        ("SELECT COUNT(DISTINCT MD5(address1)) FROM address", 2),
        (
            "SELECT COUNT(*) FROM address WHERE address1 || '|' = '9516 Magnolia Boulevard|'",
            1,
        ),
        ("SELECT COUNT(*) FROM address WHERE address1 LIKE '% '", 1),
        (
            "SELECT COUNT(*) FROM address WHERE REVERSE(address1) = 'draveluoB ailongaM 6159'",
            1,
        ),
        (
            "SELECT COUNT(*) FROM (SELECT MAX(address1) OVER () AS m FROM address) a WHERE m = '9516 Magnolia Boulevard'",
            2,
        ),
        (
            "SELECT COUNT(*) FROM (SELECT MIN(address1) AS m FROM address) a WHERE m = 'x' || '9516 Magnolia Boulevard   '",
            0,
        ),
        (
            "SELECT COUNT(*) FROM (SELECT MIN(address1) AS m FROM address) a WHERE m = '9516 Magnolia' || ' Boulevard   '",
            1,
        ),
        (
            "SELECT COUNT(*) FROM address WHERE address1 || CAST(' ' AS TEXT) = '9516 Magnolia Boulevard'",
            2,
        ),
        // Against text from functions PostgreSQL types as text, by hash and in full joins.
        (
            "SELECT COUNT(*) FROM address WHERE address1 IN (SELECT MD5('x') || '9516 Magnolia Boulevard' UNION ALL SELECT CONCAT('9516 Magnolia', ' Boulevard '))",
            2,
        ),
        (
            "SELECT COUNT(*) FROM address a FULL JOIN (SELECT CONCAT('Elm', ' Street') AS k) b ON a.address1 = b.k",
            3,
        ),
        (
            "SELECT COUNT(*) FROM address WHERE address1 <> CURRENT_USER",
            2,
        ),
        ("SELECT COUNT(*) FROM other WHERE note = CURRENT_USER", 0),
    ] {
        assert_eq!(env.single_long(sql).await, expected, "{sql}");
    }
}

/// The type is made once per database: a stand-in started again on it uses it as it is, and one
/// whose type another version made refuses to start, saying what to do. On a real server only:
/// the embedded database lives and dies with its stand-in.
async fn a_database_keeps_its_varchar_and_another_versions_is_refused(backend: Backend) {
    let (_postgres, config) = common::server(backend);
    let url = config.database_url.clone();
    let settings = |config: &redshift_local::LocalConfig| {
        let mut again = redshift_local::LocalConfig::new(&url);
        again.connections = config.connections;
        again.data_api_addr = config.data_api_addr;
        again.s3_addr = config.s3_addr;
        again
    };
    let (second, third) = (settings(&config), settings(&config));
    redshift_local::start(config)
        .await
        .expect("made")
        .stop()
        .await;
    redshift_local::start(second)
        .await
        .expect("kept")
        .stop()
        .await;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connects");
    let connection = tokio::spawn(connection);
    client
        .batch_execute("COMMENT ON TYPE redshift_local_types.varchar IS 'redshift-local VARCHAR 1'")
        .await
        .expect("marked");
    drop(client);
    let _ = connection.await;
    let refused = redshift_local::start(third).await.err().expect("refused");
    assert!(
        refused.contains("redshift-local VARCHAR 1") && refused.contains("new database"),
        "{refused}"
    );
}

/// Redshift orders strings by their bytes ("binary UTF8 ordering", "Collation sequences"): a
/// database that orders them by a locale's rules is refused at start, naming its collation.
async fn a_database_that_orders_strings_by_a_locale_is_refused(backend: Backend) {
    let (_postgres, config) = common::server(backend);
    let (client, connection) = tokio_postgres::connect(&config.database_url, tokio_postgres::NoTls)
        .await
        .expect("connects");
    let connection = tokio::spawn(connection);
    client
        .batch_execute(
            "CREATE DATABASE by_locale TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' \
             LOCALE 'C'",
        )
        .await
        .expect("a database ordered by ICU's en-US");
    drop(client);
    let _ = connection.await;
    let url = format!(
        "{}by_locale",
        config.database_url.trim_end_matches("postgres")
    );
    assert_ne!(url, config.database_url, "a URL naming the database");
    let mut by_locale = redshift_local::LocalConfig::new(&url);
    by_locale.data_api_addr = config.data_api_addr;
    by_locale.s3_addr = config.s3_addr;
    let refused = redshift_local::start(by_locale)
        .await
        .err()
        .expect("refused");
    assert!(
        refused.contains("\"C\"") && refused.contains("\"i\"") && refused.contains("binary UTF8"),
        "{refused}"
    );
    // The stand-in's own server orders them by their bytes.
    redshift_local::start(config)
        .await
        .expect("starts")
        .stop()
        .await;
}

async fn batch_results_are_read_per_sub_statement(backend: Backend) {
    let env = start(backend).await;
    let id = env.batch(&["SELECT 7", "SELECT 8"]).await;
    assert_eq!(env.wait(&id).await.last(), Some(&StatusString::Finished));
    let second = env
        .client
        .get_statement_result()
        .id(format!("{id}:2"))
        .send()
        .await
        .unwrap();
    assert_eq!(second.records()[0], vec![Field::LongValue(8)]);
    let whole = env
        .client
        .get_statement_result()
        .id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(whole.code(), Some("ValidationException"));
    assert_eq!(
        whole.message(),
        Some("BatchExecuteStatement result can only be retrieved with sub-statement id.")
    );
}

async fn status_moves_through_the_lifecycle_in_real_time(backend: Backend) {
    let env = start_tuned(backend, |config| {
        config.min_statement_time = Duration::from_millis(500)
    })
    .await;
    let id = env.execute("SELECT 1").await;
    let seen = env.wait(&id).await;
    assert_eq!(seen.last(), Some(&StatusString::Finished));
    assert!(seen.contains(&StatusString::Started), "{seen:?}");
    let order = [
        StatusString::Submitted,
        StatusString::Picked,
        StatusString::Started,
        StatusString::Finished,
    ];
    let positions: Vec<usize> = seen
        .iter()
        .map(|s| order.iter().position(|o| o == s).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "out of order: {seen:?}"
    );
    let described = env
        .client
        .describe_statement()
        .id(&id)
        .send()
        .await
        .unwrap();
    assert!(
        described.duration() >= 400_000_000,
        "duration {} ns",
        described.duration()
    );
}

/// DescribeStatement with WaitTimeSeconds long-polls: it answers when the statement ends (here
/// after its 6 s), or once the wait has passed with the status then; a wait over 30 s is refused.
async fn describe_statement_waits_for_the_statement_to_end_up_to_its_wait(backend: Backend) {
    let env = start_tuned(backend, |config| {
        config.min_statement_time = Duration::from_millis(6000)
    })
    .await;
    let describe = |id: String, wait: i32| {
        let client = env.client.clone();
        async move {
            let asked = Instant::now();
            let answer = client
                .describe_statement()
                .id(id)
                .wait_time_seconds(wait)
                .send()
                .await;
            (answer, asked.elapsed())
        }
    };
    let id = env.execute("SELECT 1").await;
    // One waiting request per statement (the limit's number is undocumented: the strict reading);
    // a second is refused while the first waits, and a request without a wait is answered.
    let ((first, _), (second, _), (plain, _)) = tokio::join!(
        describe(id.clone(), 2),
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            describe(id.clone(), 2).await
        },
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            describe(id.clone(), 0).await
        },
    );
    assert_ne!(first.unwrap().status(), Some(&StatusString::Finished));
    let refused = second.unwrap_err();
    assert_eq!(
        refused.code(),
        Some("ActiveWaitingRequestsExceededException"),
        "{refused:?}"
    );
    assert_ne!(plain.unwrap().status(), Some(&StatusString::Finished));
    let (answer, took) = describe(id.clone(), 1).await;
    assert_ne!(answer.unwrap().status(), Some(&StatusString::Finished));
    assert!(
        (Duration::from_millis(950)..Duration::from_millis(3500)).contains(&took),
        "{took:?}"
    );
    let (answer, took) = describe(id.clone(), 30).await;
    assert_eq!(answer.unwrap().status(), Some(&StatusString::Finished));
    assert!(
        took < Duration::from_secs(10),
        "answered as it ended, not after 30 s: {took:?}"
    );
    let (answer, took) = describe(id.clone(), 30).await;
    assert_eq!(answer.unwrap().status(), Some(&StatusString::Finished));
    assert!(
        took < Duration::from_secs(5),
        "an ended statement at once: {took:?}"
    );
    let (answer, _) = describe(format!("{id}:1"), 5).await;
    assert!(answer.is_err(), "not a batch: no sub-statement");
    let (answer, _) = describe(id, 31).await;
    assert_eq!(answer.unwrap_err().code(), Some("ValidationException"));
}

async fn cancel_aborts_a_running_statement_and_refuses_a_finished_one(backend: Backend) {
    let env = start(backend).await;
    let id = env.execute(SLOW).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while env.status(&id).await != StatusString::Started {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cancelled = env.client.cancel_statement().id(&id).send().await.unwrap();
    assert_eq!(cancelled.status(), Some(true));
    let started = Instant::now();
    assert_eq!(env.wait(&id).await.last(), Some(&StatusString::Aborted));
    assert!(started.elapsed() < Duration::from_secs(5));
    let again = env
        .client
        .cancel_statement()
        .id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("ValidationException"));
    assert!(again.message().unwrap().contains("ABORTED"));
}

/// A cancel that comes at once after ExecuteStatement can reach the server before the query
/// does, which PostgreSQL ignores: the statement must still end ABORTED, and at once.
async fn a_cancel_racing_the_query_to_the_server_still_aborts_it(backend: Backend) {
    let env = start(backend).await;
    for round in 0..20 {
        let id = env.execute(SLOW).await;
        let cancelled = env.client.cancel_statement().id(&id).send().await.unwrap();
        assert_eq!(cancelled.status(), Some(true));
        let started = Instant::now();
        let seen = env.wait(&id).await;
        assert_eq!(seen.last(), Some(&StatusString::Aborted), "round {round}");
        assert!(started.elapsed() < Duration::from_secs(5), "round {round}");
    }
    // The connections the cancels touched were closed, not handed to the next statement.
    let id = env.execute("SELECT 1").await;
    assert_eq!(env.wait(&id).await.last(), Some(&StatusString::Finished));
}

async fn results_come_in_pages_linked_by_next_token(backend: Backend) {
    let env = start_with(backend, 2).await;
    let id = env
        .execute("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 5) SELECT n FROM s")
        .await;
    env.wait(&id).await;
    let mut values = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = env
            .client
            .get_statement_result()
            .id(&id)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        assert_eq!(page.total_num_rows(), 5);
        values.extend(page.records().iter().map(|r| r[0].clone()));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(values, (1..=5).map(Field::LongValue).collect::<Vec<_>>());
}

async fn named_parameters_are_bound_as_values_never_as_sql(backend: Backend) {
    let env = start(backend).await;
    let hostile = "x'); DROP TABLE users; --";
    let id = env
        .client
        .execute_statement()
        .cluster_identifier("local")
        .database("dev")
        .db_user("etl")
        .sql("SELECT CAST(:n AS INTEGER) + 1, :text")
        .parameters(
            SqlParameter::builder()
                .name("n")
                .value("41")
                .build()
                .unwrap(),
        )
        .parameters(
            SqlParameter::builder()
                .name("text")
                .value(hostile)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .id
        .unwrap();
    assert_eq!(env.wait(&id).await.last(), Some(&StatusString::Finished));
    let result = env
        .client
        .get_statement_result()
        .id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        result.records()[0],
        vec![Field::LongValue(42), Field::StringValue(hostile.into())]
    );
}

async fn a_repeated_client_token_returns_the_same_statement_and_runs_it_once(backend: Backend) {
    let env = start(backend).await;
    env.wait(&env.execute("CREATE TABLE once (a INTEGER)").await)
        .await;
    let submit = |sql: &'static str| {
        env.client
            .batch_execute_statement()
            .cluster_identifier("local")
            .database("dev")
            .db_user("etl")
            .sqls(sql)
            .client_token("same-token")
            .send()
    };
    let first = submit("INSERT INTO once VALUES (1)")
        .await
        .unwrap()
        .id
        .unwrap();
    let second = submit("INSERT INTO once VALUES (1)")
        .await
        .unwrap()
        .id
        .unwrap();
    assert_eq!(first, second);
    env.wait(&first).await;
    assert_eq!(env.single_long("SELECT COUNT(*) FROM once").await, 1);
    // The same token with other SQL is refused, not answered with the first statement.
    let other = submit("INSERT INTO once VALUES (2)").await.unwrap_err();
    assert_eq!(other.code(), Some("ValidationException"), "{other:?}");
    assert!(
        other.message().unwrap().contains("ClientToken"),
        "{other:?}"
    );
    assert_eq!(env.single_long("SELECT COUNT(*) FROM once").await, 1);
}

async fn list_statements_filters_by_name_prefix_and_status(backend: Backend) {
    let env = start(backend).await;
    for name in ["sparkify-create-tables", "sparkify-load-facts", "other"] {
        let id = env
            .client
            .execute_statement()
            .cluster_identifier("local")
            .database("dev")
            .db_user("etl")
            .sql("SELECT 1")
            .statement_name(name)
            .send()
            .await
            .unwrap()
            .id
            .unwrap();
        env.wait(&id).await;
    }
    let bad = env.execute("SELECT * FROM missing_table").await;
    env.wait(&bad).await;
    let named = env
        .client
        .list_statements()
        .statement_name("sparkify-")
        .send()
        .await
        .unwrap();
    let mut names: Vec<&str> = named
        .statements()
        .iter()
        .filter_map(|s| s.statement_name())
        .collect();
    names.sort();
    assert_eq!(names, ["sparkify-create-tables", "sparkify-load-facts"]);
    let failed = env
        .client
        .list_statements()
        .status(StatusString::Failed)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.statements().len(), 1);
    assert_eq!(failed.statements()[0].id(), bad);
}

async fn failed_sql_reads_like_redshift(backend: Backend) {
    let env = start(backend).await;
    let id = env.execute("SELECT * FROM missing_table").await;
    assert_eq!(env.wait(&id).await.last(), Some(&StatusString::Failed));
    let described = env
        .client
        .describe_statement()
        .id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.error(),
        Some("ERROR: relation \"missing_table\" does not exist")
    );
    let unparsable = env.execute("SELEC 1").await;
    assert_eq!(
        env.wait(&unparsable).await.last(),
        Some(&StatusString::Failed)
    );
    let described = env
        .client
        .describe_statement()
        .id(&unparsable)
        .send()
        .await
        .unwrap();
    assert!(
        described
            .error()
            .unwrap()
            .starts_with("ERROR: syntax error")
    );
}

/// A result row over the Data API's 64 KB fails its statement by name; one under it is read, and
/// DescribeStatement gives the result's size.
async fn a_result_row_over_64_kb_fails_its_statement(backend: Backend) {
    let env = start(backend).await;
    let big = env.execute("SELECT REPEAT('x', 70000) AS big").await;
    assert_eq!(env.wait(&big).await.last(), Some(&StatusString::Failed));
    let described = env
        .client
        .describe_statement()
        .id(&big)
        .send()
        .await
        .unwrap();
    let error = described.error().unwrap();
    assert!(error.contains("64 KB per row"), "{error}");
    let fits = env.execute("SELECT REPEAT('x', 60000) AS fits").await;
    assert_eq!(env.wait(&fits).await.last(), Some(&StatusString::Finished));
    let described = env
        .client
        .describe_statement()
        .id(&fits)
        .send()
        .await
        .unwrap();
    assert!(
        (60_000..61_000).contains(&described.result_size()),
        "{}",
        described.result_size()
    );
}

async fn unknown_ids_are_resource_not_found(backend: Backend) {
    let env = start(backend).await;
    let missing = "00000000-0000-0000-0000-000000000000";
    let describe = env
        .client
        .describe_statement()
        .id(missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(describe.code(), Some("ResourceNotFoundException"));
    let result = env
        .client
        .get_statement_result()
        .id(missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(result.code(), Some("ResourceNotFoundException"));
    let cancel = env
        .client
        .cancel_statement()
        .id(missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(cancel.code(), Some("ResourceNotFoundException"));
    let id = env.execute("CREATE TABLE no_rows (a INT)").await;
    env.wait(&id).await;
    let no_result = env
        .client
        .get_statement_result()
        .id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(no_result.code(), Some("ResourceNotFoundException"));
}

/// Sends one raw HTTP request and returns (status, body).
async fn raw(addr: SocketAddr, target: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: {target}\r\n\
         Content-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

async fn malformed_requests_get_aws_errors_and_never_hang(backend: Backend) {
    let env = start(backend).await;
    let addr = env.local.data_api_addr;
    let cases = [
        (
            "RedshiftData.ExecuteStatement",
            "{not json",
            "ValidationException",
        ),
        (
            "RedshiftData.ExecuteStatement",
            r#"{"Sql": "SELECT 1"}"#,
            "ValidationException",
        ),
        (
            "RedshiftData.ExecuteStatement",
            r#"{"Sql": "SELECT 1", "Database": "dev"}"#,
            "ValidationException",
        ),
        (
            "RedshiftData.ExecuteStatement",
            r#"{"Sql": "SELECT 1", "Database": "dev", "ClusterIdentifier": "c", "WorkgroupName": "w"}"#,
            "ValidationException",
        ),
        (
            "RedshiftData.ExecuteStatement",
            r#"{"Sql": 5, "Database": "dev", "ClusterIdentifier": "c"}"#,
            "ValidationException",
        ),
        (
            "RedshiftData.BatchExecuteStatement",
            r#"{"Sqls": [], "Database": "dev", "ClusterIdentifier": "c"}"#,
            "ValidationException",
        ),
        (
            "RedshiftData.DescribeStatement",
            "{}",
            "ValidationException",
        ),
        (
            "RedshiftData.GetStatementResult",
            r#"{"Id": "abc:x"}"#,
            "ValidationException",
        ),
        (
            "RedshiftData.DropEverything",
            "{}",
            "UnknownOperationException",
        ),
        ("", "{}", "UnknownOperationException"),
    ];
    for (target, body, kind) in cases {
        let (status, response) =
            tokio::time::timeout(Duration::from_secs(5), raw(addr, target, body))
                .await
                .expect("answered in time");
        assert_eq!(status, 400, "{target} {body}: {response}");
        let json: serde_json::Value = serde_json::from_str(&response).unwrap();
        assert_eq!(json["__type"], kind, "{target} {body}: {response}");
    }
    let too_many = serde_json::json!({"Sqls": vec!["SELECT 1"; 41], "Database": "dev", "ClusterIdentifier": "c"});
    let (status, response) = raw(
        addr,
        "RedshiftData.BatchExecuteStatement",
        &too_many.to_string(),
    )
    .await;
    assert_eq!(
        (status, response.contains("ValidationException")),
        (400, true)
    );
}

// Each test above, once per backend.
mod embedded {
    crate::on!(Embedded: a_query_returns_typed_records_and_column_metadata,
        a_batch_is_one_transaction_and_a_failure_rolls_back_every_sub_statement,
        temporary_tables_end_with_their_statement_as_sessions_do,
        written_tables_are_vacuumed_and_analyzed_after_the_commit_as_redshift_does_in_the_background,
        varchar_comparisons_ignore_trailing_blanks_and_lengths_count_them,
        a_bound_on_a_column_reads_through_its_zone_maps,
        batch_results_are_read_per_sub_statement,
        status_moves_through_the_lifecycle_in_real_time,
        describe_statement_waits_for_the_statement_to_end_up_to_its_wait,
        results_come_in_pages_linked_by_next_token,
        named_parameters_are_bound_as_values_never_as_sql,
        a_repeated_client_token_returns_the_same_statement_and_runs_it_once,
        list_statements_filters_by_name_prefix_and_status,
        failed_sql_reads_like_redshift,
        a_result_row_over_64_kb_fails_its_statement,
        unknown_ids_are_resource_not_found,
        malformed_requests_get_aws_errors_and_never_hang);
}

/// The embedded server takes one connection at a time, so it cannot receive PostgreSQL's cancel
/// request while a statement runs: CancelStatement is tested on a real server only (and the
/// concurrent transactions of tests/strict.rs likewise).
mod binaries {
    crate::on!(Binaries: a_query_returns_typed_records_and_column_metadata,
        a_batch_is_one_transaction_and_a_failure_rolls_back_every_sub_statement,
        temporary_tables_end_with_their_statement_as_sessions_do,
        written_tables_are_vacuumed_and_analyzed_after_the_commit_as_redshift_does_in_the_background,
        varchar_comparisons_ignore_trailing_blanks_and_lengths_count_them,
        a_bound_on_a_column_reads_through_its_zone_maps,
        a_database_keeps_its_varchar_and_another_versions_is_refused,
        a_database_that_orders_strings_by_a_locale_is_refused,
        batch_results_are_read_per_sub_statement,
        status_moves_through_the_lifecycle_in_real_time,
        describe_statement_waits_for_the_statement_to_end_up_to_its_wait,
        cancel_aborts_a_running_statement_and_refuses_a_finished_one,
        a_cancel_racing_the_query_to_the_server_still_aborts_it,
        results_come_in_pages_linked_by_next_token,
        named_parameters_are_bound_as_values_never_as_sql,
        a_repeated_client_token_returns_the_same_statement_and_runs_it_once,
        list_statements_filters_by_name_prefix_and_status,
        failed_sql_reads_like_redshift,
        a_result_row_over_64_kb_fails_its_statement,
        unknown_ids_are_resource_not_found,
        malformed_requests_get_aws_errors_and_never_hang);
}
