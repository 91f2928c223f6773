//! copy-staging lists S3 once per execution, and hands the listing to the warehouse rather than
//! holding it: nothing in the function grows with the catalogue.
//!
//! - **Listing**, over as many calls as it takes: each call lists for at most [`LIST_SECONDS`],
//!   page by page (ListObjectsV2, resumed with StartAfter at the last key the previous call
//!   listed), and writes what it listed to the manifest bucket in parts of at most
//!   [`OBJECTS_PER_PART`] objects, one JSON object per line whose keys are `load_listing`'s
//!   columns. What it lists follows what started the run: a window's objects, one HeadObject
//!   per reading of each key its events name and no LIST (songs are left to the runs that load
//!   them); a backfill's days, from the log prefix; a nightly run's log prefix, then its song
//!   prefix. The state carries where the listing is ([`Listing`]), never what it found.
//! - **Recording**, once: one batch (`sql/copy/listing_*.sql`) loads every part, named by a
//!   manifest, into `load_listing` by COPY. Each round's plan is then a query of that table
//!   against the ledger, the quarantine and what the execution staged (`plan.rs`).
//! - **Handing over**, when the run's load budget has run out with objects left: one batch
//!   (`sql/copy/handover_*.sql`) gives the listing's rest to the execution that takes it on,
//!   which lists nothing.

use crate::plan::{Listed, Planned, Round};
use crate::{At, Carried, Output, Phase, SKIPPED_SHOWN, STEP, objects};
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sparkify::config::DataSource;
use sparkify::sql::{AccountId, BucketName, Literal, RunId, S3Key, catalogue, render};
use sparkify::trigger::{Day, EventKey, Skipped, Trigger, continuation_of};
use sparkify::{EtlError, Moved};
use std::time::Duration;
use tokio::time::Instant;

/// How long one call lists before it hands on (the functions' timeout is 30 s): a page takes a
/// fraction of a second, and a part's upload a few more.
pub const LIST_SECONDS: u64 = 10;

/// Objects per part of the listing: about 4 MB of JSON lines, the most the function holds.
pub const OBJECTS_PER_PART: usize = 20_000;

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
    /// Keys that are not loaded (reported, never loaded): listed keys that cannot be loaded
    /// safely, and keys named by events that were not found or could not be told apart; the
    /// first [`SKIPPED_SHOWN`], and how many there were in all.
    pub skipped: Vec<Skipped>,
    pub skipped_total: usize,
    /// Of `skipped_total`, the keys named by events that no object answers to.
    pub not_found: usize,
    /// The LastModified of the newest log object listed, or named by an event and found (RFC
    /// 3339, UTC); null when none was, and in a backfill, whose days may be old. Its age is the
    /// NewestLogObjectAgeHours metric: how long ago the newest data arrived.
    pub newest_log: Option<String>,
}

/// Where the listing is: its log objects, then its song objects (nightly runs only), then written
/// in full, then recorded in `load_listing` (or handed to this execution by the one before).
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

    /// Counts a log object's LastModified towards `newest_log`.
    fn saw_log(&mut self, modified: Option<&DateTime>) {
        let Some(modified) = modified.and_then(|m| m.to_millis().ok()) else {
            return;
        };
        if self
            .newest_log_millis()
            .is_none_or(|newest| modified > newest)
        {
            self.newest_log = DateTime::from_millis(modified)
                .fmt(DateTimeFormat::DateTime)
                .ok();
        }
    }

    /// `newest_log` in milliseconds since the epoch.
    pub fn newest_log_millis(&self) -> Option<i64> {
        let newest = self.newest_log.as_deref()?;
        DateTime::from_str(newest, DateTimeFormat::DateTime)
            .ok()?
            .to_millis()
            .ok()
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
    /// The manifest bucket's owner, if known, named on every call on it.
    owner: Option<&'a AccountId>,
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
        owner: source.manifest_bucket_owner.as_ref(),
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
            (Stage::Logs, Trigger::NewLogObjects { keys, refused }) => {
                for skipped in refused {
                    listing.skip(skipped.clone());
                }
                let mut named = std::collections::HashSet::new();
                for key in keys {
                    match named_object(s3, source.data(), key).await? {
                        // Two spellings of one key in a window name one object, listed once.
                        Ok((object, _)) if !named.insert(object.key.as_str().to_owned()) => {}
                        Ok((object, modified)) => {
                            listing.saw_log(modified.as_ref());
                            part.push(run, &object);
                        }
                        Err(skipped) => {
                            if skipped.reason.starts_with(objects::NOT_FOUND) {
                                listing.not_found += 1;
                            }
                            listing.skip(skipped);
                        }
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
            listing.stage = match (listing.stage, trigger) {
                // Only a nightly run (or a start by hand) loads song objects.
                (Stage::Logs, Trigger::FullLoad) => Stage::Songs,
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

/// The one object a window's event names: of the key's readings ([`EventKey::readings`]), the one
/// that exists (one HeadObject each); if several exist, the one with the event's ETag. Never
/// another: a key no object answers to, or that the ETag cannot tell apart, is skipped, with why.
async fn named_object(
    s3: &Client,
    bucket: (&BucketName, Option<&AccountId>),
    key: &EventKey,
) -> Result<Result<(Listed, Option<DateTime>), Skipped>, EtlError> {
    let mut found = Vec::with_capacity(key.readings.len());
    for reading in &key.readings {
        if let Some(object) = objects::head(s3, bucket, reading).await? {
            found.push(object);
        }
    }
    let skipped = |reason: String| {
        Ok(Err(Skipped {
            key: key.sent.clone(),
            reason,
        }))
    };
    let existing = found.len();
    if existing > 1
        && let Some(etag) = &key.etag
    {
        found.retain(|(object, _)| &object.etag == etag);
    }
    match (existing, found.len()) {
        (_, 1) => Ok(Ok(found.remove(0))),
        (0, _) => skipped(match &key.unloadable {
            Some(why) => format!("{} (and as URL-decoded it {why})", objects::NOT_FOUND),
            None => objects::NOT_FOUND.to_owned(),
        }),
        (_, 0) => skipped(format!(
            "{}: {existing} objects answer to the key, none with the event's ETag",
            objects::AMBIGUOUS
        )),
        _ => skipped(format!(
            "{}: {} objects answer to the key ({})",
            objects::AMBIGUOUS,
            found.len(),
            found
                .iter()
                .map(|(object, _)| object.key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
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
        .set_expected_bucket_owner(source.bucket_owner.as_ref().map(|o| o.as_str().to_owned()))
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
                        reason: format!("{}: {reason}", sparkify::trigger::UNSAFE_KEY),
                    });
                    continue;
                }
            };
            if let Trigger::Backfill { from, to } = trigger {
                if !Day::in_key(key).is_some_and(|day| (from..=to).contains(&&day)) {
                    continue;
                }
            } else if part.kind == "events" {
                listing.saw_log(object.last_modified());
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
    objects::put(
        s3,
        (place.bucket, place.owner),
        &place.part(number)?,
        part.body,
    )
    .await?;
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
        owner: source.manifest_bucket_owner.as_ref(),
        run,
    };
    let parts: Vec<S3Key> = (1..=listing.parts)
        .map(|number| place.part(number))
        .collect::<Result<_, _>>()?;
    let manifest = place.manifest()?;
    objects::put(
        s3,
        (place.bucket, place.owner),
        &manifest,
        objects::manifest(place.bucket, &parts),
    )
    .await?;
    let [lock, clear, copy] = catalogue::RECORD_LISTING;
    Ok(vec![
        render(&lock, &[])?,
        render(&clear, &[("run", Literal::run(run))])?,
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

impl At<'_> {
    /// Lists on (for at most [`LIST_SECONDS`]), and submits the batch that records the listing
    /// once it is written in full; a listing that found nothing ends the step.
    pub(crate) async fn list_on(
        &self,
        round: u32,
        staged: Vec<Moved>,
        mut carried: Carried,
    ) -> Result<Output, EtlError> {
        let source = &self.deps.config.source;
        if !carried.listing.is_listed() {
            let until = Instant::now() + Duration::from_secs(LIST_SECONDS);
            carried.listing = resume(
                self.s3,
                source,
                &self.trigger,
                &self.run,
                carried.listing,
                until,
            )
            .await?;
            if !carried.listing.is_listed() {
                tracing::info!(
                    step = STEP,
                    parts = carried.listing.parts,
                    objects = carried.listing.objects,
                    "the listing goes on in the next call"
                );
                let mut out = self.submitted("", Phase::List, round, staged, carried);
                out.step.status = "LISTING".into();
                return Ok(out);
            }
        }
        if carried.listing.objects == 0 {
            tracing::info!(
                step = STEP,
                skipped = carried.listing.skipped_total,
                "nothing listed: nothing to load"
            );
            let mut out = self.finished("", Phase::List, round, staged, carried);
            out.planned = Some(Planned::of(&Round::default(), &out.carried.listing));
            return Ok(out);
        }
        let sqls = record(self.s3, source, &self.run, &carried.listing).await?;
        let token = self.step.client_token(&format!("{STEP}/listing"));
        let id = self
            .deps
            .data_api
            .submit(sqls, &token, &format!("sparkify-{STEP}-listing"))
            .await?;
        tracing::info!(step = STEP, statement_id = %id, parts = carried.listing.parts, objects = carried.listing.objects, "listing submitted to the warehouse");
        Ok(self.submitted(&id, Phase::Record, round, staged, carried))
    }

    /// After the listing's record committed: the first plan.
    pub(crate) async fn recorded(&self, current: Output) -> Result<Output, EtlError> {
        tracing::info!(
            step = STEP,
            objects = current.carried.listing.objects,
            "listing recorded"
        );
        let mut carried = current.carried;
        carried.listing.stage = Stage::Recorded;
        carried.listing.after = None;
        self.submit_plan(current.round, current.staged, carried)
            .await
    }

    /// Submits the batch that hands the rest of the listing to the execution that takes on what
    /// this one leaves ([`continuation_of`]): the load budget has run out before round `round`.
    pub(crate) async fn hand_over(
        &self,
        round: u32,
        staged: Vec<Moved>,
        carried: Carried,
    ) -> Result<Output, EtlError> {
        let next = continuation_of(&self.run);
        let [lock, staged_sql, rest] = catalogue::HAND_OVER;
        let run = || ("run", Literal::run(&self.run));
        let sqls = vec![
            render(&lock, &[])?,
            render(&staged_sql, &[run()])?,
            render(&rest, &[run(), ("next", Literal::run(&next))])?,
        ];
        let token = self.step.client_token(&format!("{STEP}/handover"));
        let id = self
            .deps
            .data_api
            .submit(sqls, &token, &format!("sparkify-{STEP}-handover"))
            .await?;
        tracing::info!(step = STEP, statement_id = %id, next = next.as_str(), "handing the rest of the listing over");
        Ok(self.submitted(&id, Phase::Handover, round, staged, carried))
    }

    /// After the hand-over committed: done, leaving the rest to the next execution.
    pub(crate) fn handed_over(&self, current: Output) -> Output {
        let id = current.step.statement_id.clone();
        let mut out = self.finished(
            &id,
            current.phase,
            current.round,
            current.staged,
            current.carried,
        );
        out.backlog = true;
        out.continuation = Some(continuation_of(&self.run).as_str().to_owned());
        out
    }
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

    /// HeadObject answers for `objects` (key and ETag), and 404 for any other key.
    fn heads(objects: &'static [(&'static str, &'static str)]) -> aws_smithy_mocks::Rule {
        use aws_sdk_s3::operation::head_object::{HeadObjectError, HeadObjectOutput};
        use aws_sdk_s3::types::error::NotFound;
        mock!(Client::head_object).then_compute_response(move |req| {
            let found = objects
                .iter()
                .find(|(key, _)| req.key() == Some(*key))
                .map(|(_, etag)| *etag);
            match found {
                Some(etag) => aws_smithy_mocks::MockResponse::Output(
                    HeadObjectOutput::builder()
                        .e_tag(format!("\"{etag}\""))
                        .content_length(5)
                        .build(),
                ),
                None => aws_smithy_mocks::MockResponse::Error(HeadObjectError::NotFound(
                    NotFound::builder().build(),
                )),
            }
        })
    }

    /// A window of events naming `sent` keys, without ETags.
    fn window(sent: &[&str]) -> Trigger {
        let events: Vec<serde_json::Value> = sent
            .iter()
            .map(|key| {
                json!({"detail-type": "Object Created",
                       "detail": {"bucket": {"name": "udacity-dend"}, "object": {"key": key}}})
            })
            .collect();
        let input = json!({"detail-type": sparkify::trigger::WINDOW, "events": events});
        Trigger::from_execution_input(&input, &sparkify::testing::config().source).unwrap()
    }

    /// A window's objects are HEADed, not listed, and its run lists no song: an object gone since
    /// its event (404) is skipped, counted and reported, the rest written.
    #[tokio::test]
    async fn a_windows_object_gone_since_its_event_is_skipped_and_no_prefix_is_listed() {
        let (here, gone) = ("log_data/2018/11/a.json", "log_data/2018/11/b.json");
        let head = heads(&[("log_data/2018/11/a.json", "e")]);
        let any_listing = mock!(Client::list_objects_v2).then_output(|| page(&[], false));
        let part = part_put("part-00001.jsonl");
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&head, &any_listing, &part]);
        let source = sparkify::testing::config().source;
        let run = RunId::from_execution("run-1").unwrap();
        let until = Instant::now() + Duration::from_secs(5);
        let listing = resume(
            &s3,
            &source,
            &window(&[here, gone]),
            &run,
            Listing::default(),
            until,
        )
        .await
        .unwrap();
        assert_eq!(
            (
                listing.stage,
                listing.parts,
                listing.objects,
                listing.not_found
            ),
            (Stage::Listed, 1, 1, 1)
        );
        assert_eq!(
            listing.skipped,
            vec![Skipped {
                key: gone.into(),
                reason: objects::NOT_FOUND.into()
            }]
        );
        assert_eq!(
            (head.num_calls(), any_listing.num_calls(), part.num_calls()),
            (2, 0, 1)
        );
    }

    /// A key is loaded under the one reading an object answers to: as sent, or URL-decoded. Two
    /// answering are told apart by the event's ETag, or skipped as ambiguous; none is not found.
    #[tokio::test]
    async fn a_key_loads_under_the_one_reading_an_object_answers_to() {
        let head = heads(&[
            ("log_data/a b.json", "e1"),
            ("log_data/x+y.json", "e2"),
            ("log_data/x y.json", "e3"),
            ("log_data/été=1.json", "e4"),
        ]);
        let part = part_put("part-00001.jsonl");
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&head, &part]);
        let source = sparkify::testing::config().source;
        let run = RunId::from_execution("run-1").unwrap();
        let until = Instant::now() + Duration::from_secs(5);
        let mut trigger = window(&[
            "log_data/a+b.json",
            "log_data/x+y.json",
            "log_data/%C3%A9t%C3%A9%3D1.json",
            "log_data/nowhere+.json",
        ]);
        let listing = resume(&s3, &source, &trigger, &run, Listing::default(), until)
            .await
            .unwrap();
        // a b.json and été=1.json load; x+y.json names two objects and has no ETag.
        assert_eq!((listing.objects, listing.not_found), (2, 1));
        let reasons: Vec<(&str, &str)> = listing
            .skipped
            .iter()
            .map(|s| (s.key.as_str(), s.reason.split(':').next().unwrap()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("log_data/nowhere+.json", objects::NOT_FOUND),
                ("log_data/x+y.json", objects::AMBIGUOUS)
            ]
        );
        // With the event's ETag, the two are told apart.
        if let Trigger::NewLogObjects { keys, .. } = &mut trigger {
            keys.iter_mut()
                .find(|key| key.sent == "log_data/x+y.json")
                .unwrap()
                .etag = Some("e3".into());
        }
        let listing = resume(&s3, &source, &trigger, &run, Listing::default(), until)
            .await
            .unwrap();
        assert_eq!(
            (listing.objects, listing.not_found, listing.skipped_total),
            (3, 1, 1)
        );
    }

    /// A backfill lists the log prefix for its days and no song.
    #[tokio::test]
    async fn a_backfill_lists_its_days_and_no_song() {
        let logs = mock!(Client::list_objects_v2)
            .match_requests(|req| req.prefix() == Some("log_data/"))
            .then_output(|| {
                page(
                    &[
                        "log_data/2018/11/2018-11-04-events.json",
                        "log_data/2018/11/2018-11-05-events.json",
                    ],
                    false,
                )
            });
        let songs = mock!(Client::list_objects_v2)
            .match_requests(|req| req.prefix() == Some("song_data/"))
            .then_output(|| page(&["song_data/A/x.json"], false));
        let part = part_put("part-00001.jsonl");
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&logs, &songs, &part]);
        let source = sparkify::testing::config().source;
        let run = RunId::from_execution("run-1").unwrap();
        let backfill = Trigger::Backfill {
            from: Day::parse("2018-11-05").unwrap(),
            to: Day::parse("2018-11-06").unwrap(),
        };
        let until = Instant::now() + Duration::from_secs(5);
        let listing = resume(&s3, &source, &backfill, &run, Listing::default(), until)
            .await
            .unwrap();
        assert_eq!((listing.stage, listing.objects), (Stage::Listed, 1));
        assert_eq!((logs.num_calls(), songs.num_calls()), (1, 0));
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
            not_found: 0,
            newest_log: Some("2026-12-06T03:00:00Z".into()),
        })
        .unwrap();
        assert_eq!(carried["stage"], "songs");
        assert_eq!(carried.as_object().unwrap().len(), 8);
    }
}
