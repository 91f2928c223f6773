//! copy-staging lists S3 once per execution, and hands the listing to the warehouse rather than
//! holding it: nothing in the function grows with the catalogue.
//!
//! - **Listing**, over as many calls as it takes: each call lists for at most [`LIST_SECONDS`],
//!   page by page (ListObjectsV2, resumed with StartAfter at the last key the previous call
//!   listed), and writes what it listed to the manifest bucket in parts of at most
//!   [`OBJECTS_PER_PART`] objects, one JSON object per line whose keys are `load_listing`'s
//!   columns. First the log objects (a window's keys, one HeadObject each; a backfill's days), then
//!   the song prefix. The state carries where the listing is ([`Listing`]), never what it found.
//! - **Recording**, once: one batch (`sql/copy/listing_*.sql`) loads every part, named by a
//!   manifest, into `load_listing` by COPY. Each round's plan is then a query of that table
//!   against the ledger, the quarantine and what the execution staged (`plan.rs`).

use crate::SKIPPED_SHOWN;
use crate::objects::{self, Skipped};
use crate::plan::Listed;
use aws_sdk_s3::Client;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sparkify::EtlError;
use sparkify::config::DataSource;
use sparkify::sql::{BucketName, Literal, RunId, S3Key, Timestamp, catalogue, render};
use sparkify::trigger::{Day, Trigger};
use std::time::Duration;
use tokio::time::Instant;

/// How long one call lists before it hands on (the functions' timeout is 30 s): a page takes a
/// fraction of a second, and a part's upload a few more.
pub const LIST_SECONDS: u64 = 10;

/// Objects per part of the listing: about 4 MB of JSON lines, the most the function holds.
pub const OBJECTS_PER_PART: usize = 20_000;

/// Listings older than this are left by executions that ended part way (a run lasts at most two
/// hours, the state machine's timeout); the next recording removes them.
pub const STALE_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// How far this execution's listing has got, carried from call to call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Listing {
    pub stage: Stage,
    /// The last key listed in the stage's prefix: where the next call resumes.
    pub after: Option<String>,
    /// Parts written so far (`part-00001.jsonl` …).
    pub parts: u32,
    /// Objects written to the parts, in all.
    pub objects: u64,
    /// Listed keys that cannot be loaded safely (reported, never loaded): the first
    /// [`SKIPPED_SHOWN`], and how many there were in all.
    pub skipped: Vec<Skipped>,
    pub skipped_total: usize,
}

/// Where the listing is: its log objects, then its song objects, then written in full, then
/// recorded in `load_listing`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    #[default]
    Logs,
    Songs,
    Listed,
    Recorded,
}

impl Listing {
    pub fn is_listed(&self) -> bool {
        matches!(self.stage, Stage::Listed | Stage::Recorded)
    }

    fn skip(&mut self, skipped: Skipped) {
        tracing::warn!(step = crate::STEP, key = %skipped.key, reason = %skipped.reason, "object skipped");
        self.skipped_total += 1;
        if self.skipped.len() < SKIPPED_SHOWN {
            self.skipped.push(skipped);
        }
    }
}

/// Where a run's listing lives in the manifest bucket.
struct Place<'a> {
    bucket: &'a BucketName,
    run: &'a RunId,
}

impl Place<'_> {
    fn key(&self, name: &str) -> Result<S3Key, EtlError> {
        S3Key::parse(&format!("manifests/{}/listing/{name}", self.run.as_str())).map_err(|why| {
            EtlError::InvalidInput(format!("listing key for run {}: {why}", self.run.as_str()))
        })
    }

    fn part(&self, number: u32) -> Result<S3Key, EtlError> {
        self.key(&format!("part-{number:05}.jsonl"))
    }

    fn manifest(&self) -> Result<S3Key, EtlError> {
        self.key("listing.manifest")
    }
}

/// What a call has listed and not yet written: one part at most.
struct Part {
    kind: &'static str,
    reload: bool,
    listed_at: String,
    body: Vec<u8>,
    objects: usize,
}

impl Part {
    /// An empty part of the same kind, for what is listed after this one.
    fn next(&self) -> Self {
        Part {
            kind: self.kind,
            reload: self.reload,
            listed_at: self.listed_at.clone(),
            body: Vec::new(),
            objects: 0,
        }
    }

    fn push(&mut self, run: &RunId, object: &Listed) {
        let line = json!({
            "run_id": run.as_str(),
            "kind": self.kind,
            "object_key": object.key.as_str(),
            "etag": object.etag,
            "size_bytes": object.size,
            "reload": self.reload,
            "listed_at": self.listed_at,
        });
        serde_json::to_writer(&mut self.body, &line).expect("JSON values serialise");
        self.body.push(b'\n');
        self.objects += 1;
    }
}

/// Lists on from where `listing` is until it is written in full or `until` passes (after one page
/// at least), writing a part whenever [`OBJECTS_PER_PART`] objects are listed and at the end.
pub async fn resume(
    s3: &Client,
    source: &DataSource,
    trigger: &Trigger,
    run: &RunId,
    mut listing: Listing,
    until: Instant,
) -> Result<Listing, EtlError> {
    let place = Place {
        bucket: &source.manifest_bucket,
        run,
    };
    let listed_at = crate::now_utc();
    // Each call lists at least one page, however late it starts, so every call makes headway.
    while !listing.is_listed() {
        let (kind, prefix) = match listing.stage {
            Stage::Logs => ("events", &source.log_prefix),
            _ => ("songs", &source.song_prefix),
        };
        let mut part = Part {
            kind,
            reload: matches!(trigger, Trigger::Backfill { .. }) && kind == "events",
            listed_at: listed_at.clone(),
            body: Vec::new(),
            objects: 0,
        };
        let finished = match (listing.stage, trigger) {
            (Stage::Logs, Trigger::NewLogObjects(keys)) => {
                for key in keys {
                    match objects::head(s3, &source.bucket, key).await? {
                        Some(object) => part.push(run, &object),
                        None => listing.skip(Skipped {
                            key: key.as_str().to_owned(),
                            reason: objects::GONE.to_owned(),
                        }),
                    }
                }
                true
            }
            _ => {
                list_pages(
                    s3,
                    source,
                    prefix,
                    trigger,
                    &place,
                    &mut listing,
                    &mut part,
                    until,
                )
                .await?
            }
        };
        write_part(s3, &place, &mut listing, part).await?;
        if finished {
            listing.stage = match listing.stage {
                Stage::Logs => Stage::Songs,
                _ => Stage::Listed,
            };
            listing.after = None;
        }
        if Instant::now() >= until {
            break;
        }
    }
    Ok(listing)
}

/// Lists `prefix` page by page after `listing.after` into `part`, writing it whenever it is full,
/// until the prefix ends (true) or `until` passes (false).
#[allow(clippy::too_many_arguments)]
async fn list_pages(
    s3: &Client,
    source: &DataSource,
    prefix: &S3Key,
    trigger: &Trigger,
    place: &Place<'_>,
    listing: &mut Listing,
    part: &mut Part,
    until: Instant,
) -> Result<bool, EtlError> {
    let run = place.run;
    let mut pages = s3
        .list_objects_v2()
        .bucket(source.bucket.as_str())
        .prefix(prefix.as_str())
        .set_start_after(listing.after.clone())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| EtlError::from_s3("ListObjectsV2", err))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            if key.ends_with('/') || key == source.jsonpaths_key.as_str() {
                continue;
            }
            let parsed = match S3Key::parse(key) {
                Ok(parsed) => parsed,
                Err(reason) => {
                    listing.skip(Skipped {
                        key: key.to_owned(),
                        reason,
                    });
                    continue;
                }
            };
            if let Trigger::Backfill { from, to } = trigger
                && !Day::in_key(key).is_some_and(|day| (from..=to).contains(&&day))
            {
                continue;
            }
            part.push(
                run,
                &Listed {
                    key: parsed,
                    etag: objects::unquoted(object.e_tag().unwrap_or_default()),
                    size: object.size().unwrap_or_default(),
                },
            );
        }
        if let Some(last) = page.contents().last().and_then(|object| object.key()) {
            listing.after = Some(last.to_owned());
        }
        if part.objects >= OBJECTS_PER_PART {
            let next = part.next();
            let full = std::mem::replace(part, next);
            write_part(s3, place, listing, full).await?;
        }
        if Instant::now() >= until {
            // A page that ends the listing says so itself; the next call finds nothing after it.
            return Ok(page.next_continuation_token().is_none());
        }
    }
    Ok(true)
}

/// Writes `part` as the listing's next part, unless it is empty.
async fn write_part(
    s3: &Client,
    place: &Place<'_>,
    listing: &mut Listing,
    part: Part,
) -> Result<(), EtlError> {
    if part.objects == 0 {
        return Ok(());
    }
    let number = listing.parts + 1;
    objects::put(s3, place.bucket, &place.part(number)?, part.body).await?;
    listing.parts = number;
    listing.objects += part.objects as u64;
    tracing::info!(
        step = crate::STEP,
        part = number,
        objects = part.objects,
        listed = listing.objects,
        "listing part written"
    );
    Ok(())
}

/// Writes the manifest of the listing's parts and returns the batch that records them in
/// `load_listing`: its lock, the removal of this execution's earlier rows and of stale ones, and
/// the COPY. Only for a listing with at least one part.
pub async fn record(
    s3: &Client,
    source: &DataSource,
    run: &RunId,
    listing: &Listing,
) -> Result<Vec<String>, EtlError> {
    let place = Place {
        bucket: &source.manifest_bucket,
        run,
    };
    let parts: Vec<S3Key> = (1..=listing.parts)
        .map(|number| place.part(number))
        .collect::<Result<_, _>>()?;
    let manifest = place.manifest()?;
    objects::put(
        s3,
        place.bucket,
        &manifest,
        objects::manifest(place.bucket, &parts),
    )
    .await?;
    let stale = std::time::SystemTime::now() - STALE_AFTER;
    let stale_before = aws_smithy_types::DateTime::from(stale)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .map_err(|err| EtlError::InvalidInput(format!("a day ago: {err}")))
        .and_then(|text| Timestamp::parse_utc(&text).map_err(EtlError::InvalidInput))?;
    let [lock, clear, copy] = catalogue::RECORD_LISTING;
    Ok(vec![
        render(&lock, &[])?,
        render(
            &clear,
            &[
                ("run", Literal::run(run)),
                ("stale_before", Literal::timestamp(&stale_before)),
            ],
        )?,
        render(
            &copy,
            &[
                ("manifest", Literal::s3_uri(place.bucket, &manifest)),
                ("copy_role_arn", Literal::role(&source.copy_role_arn)),
                ("region", Literal::region(&source.region)),
            ],
        )?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_holds_one_line_per_object_keyed_by_load_listings_columns() {
        let run = RunId::from_execution("run-1").unwrap();
        let mut part = Part {
            kind: "events",
            reload: true,
            listed_at: "2026-12-02 10:00:00".into(),
            body: Vec::new(),
            objects: 0,
        };
        let object = Listed {
            key: S3Key::parse("log_data/2018/11/it's.json").unwrap(),
            etag: "abc".into(),
            size: 7,
        };
        part.push(&run, &object);
        part.push(&run, &object);
        let lines: Vec<serde_json::Value> = String::from_utf8(part.body)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        let mut columns: Vec<&str> = lines[0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        columns.sort_unstable();
        let table = catalogue::CREATE_TABLES
            .iter()
            .find(|file| file.path == "create/load_listing.sql")
            .unwrap();
        for column in &columns {
            assert!(table.text.contains(&format!("    {column} ")), "{column}");
        }
        assert_eq!(columns.len(), 7);
        assert_eq!(lines[0]["object_key"], "log_data/2018/11/it's.json");
        assert_eq!(lines[0]["reload"], true);
        assert_eq!(lines[1]["size_bytes"], 7);
    }

    use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
    use aws_sdk_s3::operation::put_object::PutObjectOutput;
    use aws_sdk_s3::types::Object;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn page(keys: &[&str], more: bool) -> ListObjectsV2Output {
        let objects = keys
            .iter()
            .map(|key| Object::builder().key(*key).e_tag("\"e\"").size(5).build());
        ListObjectsV2Output::builder()
            .set_contents(Some(objects.collect()))
            .set_next_continuation_token(more.then(|| "next".to_owned()))
            .build()
    }

    fn part_put(name: &'static str) -> aws_smithy_mocks::Rule {
        mock!(Client::put_object)
            .match_requests(move |req| req.key().is_some_and(|key| key.ends_with(name)))
            .then_output(|| PutObjectOutput::builder().build())
    }

    /// A call whose time is up stops after a page, writes what it listed as a part and says where
    /// it got to; the next call resumes after that key (StartAfter), and goes on to the songs.
    #[tokio::test]
    async fn a_listing_that_outlasts_its_call_resumes_after_its_last_key() {
        let first = mock!(Client::list_objects_v2)
            .match_requests(|req| req.prefix() == Some("log_data/") && req.start_after().is_none())
            .then_output(|| page(&["log_data/a.json", "log_data/b.json"], true));
        let rest = mock!(Client::list_objects_v2)
            .match_requests(|req| {
                req.prefix() == Some("log_data/") && req.start_after() == Some("log_data/b.json")
            })
            .then_output(|| page(&["log_data/c.json", "log_json_path.json"], false));
        let songs = mock!(Client::list_objects_v2)
            .match_requests(|req| req.prefix() == Some("song_data/"))
            .then_output(|| page(&["song_data/A/x.json"], false));
        let (one, two, three) = (
            part_put("part-00001.jsonl"),
            part_put("part-00002.jsonl"),
            part_put("part-00003.jsonl"),
        );
        let s3 = mock_client!(
            aws_sdk_s3,
            RuleMode::MatchAny,
            [&first, &rest, &songs, &one, &two, &three]
        );
        let source = sparkify::testing::config().source;
        let run = RunId::from_execution("run-1").unwrap();
        let late = Instant::now();
        let listing = resume(
            &s3,
            &source,
            &Trigger::FullLoad,
            &run,
            Listing::default(),
            late,
        )
        .await
        .unwrap();
        assert_eq!(
            (
                listing.stage,
                listing.after.as_deref(),
                listing.parts,
                listing.objects
            ),
            (Stage::Logs, Some("log_data/b.json"), 1, 2)
        );
        let listing = resume(&s3, &source, &Trigger::FullLoad, &run, listing, late)
            .await
            .unwrap();
        assert_eq!(
            (
                listing.stage,
                listing.after.as_deref(),
                listing.parts,
                listing.objects
            ),
            (Stage::Songs, None, 2, 3),
            "the JSONPaths file is not a log object"
        );
        let listing = resume(&s3, &source, &Trigger::FullLoad, &run, listing, late)
            .await
            .unwrap();
        assert_eq!(
            (listing.stage, listing.parts, listing.objects),
            (Stage::Listed, 3, 4)
        );
        assert_eq!(
            (first.num_calls(), rest.num_calls(), songs.num_calls()),
            (1, 1, 1)
        );
        assert_eq!(
            (one.num_calls(), two.num_calls(), three.num_calls()),
            (1, 1, 1)
        );
    }

    /// A window's objects are HEADed, not listed: one gone since its event (404) is skipped and
    /// reported, the rest written; then the song prefix is listed as for any run.
    #[tokio::test]
    async fn a_windows_object_gone_since_its_event_is_skipped_and_the_rest_listed() {
        use aws_sdk_s3::operation::head_object::{HeadObjectError, HeadObjectOutput};
        use aws_sdk_s3::types::error::NotFound;
        let (here, gone) = ("log_data/2018/11/a.json", "log_data/2018/11/b.json");
        let found = mock!(Client::head_object)
            .match_requests(move |req| req.key() == Some(here))
            .then_output(|| {
                HeadObjectOutput::builder()
                    .e_tag("\"e\"")
                    .content_length(5)
                    .build()
            });
        let missing = mock!(Client::head_object)
            .match_requests(move |req| req.key() == Some(gone))
            .then_error(|| HeadObjectError::NotFound(NotFound::builder().build()));
        let songs = mock!(Client::list_objects_v2)
            .match_requests(|req| req.prefix() == Some("song_data/"))
            .then_output(|| page(&[], false));
        let part = part_put("part-00001.jsonl");
        let s3 = mock_client!(
            aws_sdk_s3,
            RuleMode::MatchAny,
            [&found, &missing, &songs, &part]
        );
        let source = sparkify::testing::config().source;
        let run = RunId::from_execution("run-1").unwrap();
        let window = Trigger::NewLogObjects(vec![
            S3Key::parse(here).unwrap(),
            S3Key::parse(gone).unwrap(),
        ]);
        let until = Instant::now() + Duration::from_secs(5);
        let listing = resume(&s3, &source, &window, &run, Listing::default(), until)
            .await
            .unwrap();
        assert_eq!(
            (listing.stage, listing.parts, listing.objects),
            (Stage::Listed, 1, 1)
        );
        assert_eq!(
            listing.skipped,
            vec![Skipped {
                key: gone.into(),
                reason: objects::GONE.into()
            }]
        );
        assert_eq!(
            (missing.num_calls(), songs.num_calls(), part.num_calls()),
            (1, 1, 1)
        );
    }

    #[test]
    fn a_listing_is_carried_as_where_it_is_never_what_it_found() {
        let listing: Listing = serde_json::from_value(json!({})).unwrap();
        assert_eq!(listing.stage, Stage::Logs);
        let carried = serde_json::to_value(Listing {
            stage: Stage::Songs,
            after: Some("song_data/A/B/C/TRABC.json".into()),
            parts: 3,
            objects: 60_000,
            skipped: Vec::new(),
            skipped_total: 0,
        })
        .unwrap();
        assert_eq!(carried["stage"], "songs");
        assert_eq!(carried.as_object().unwrap().len(), 6);
    }
}
