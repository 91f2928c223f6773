//! A round's batch (`sql/copy/`): the function writes the round's manifests and object list to the
//! manifest bucket, then submits one batch, one transaction:
//! - a round of **song objects** COPYs them through one manifest into a private table, then
//!   publishes them: their songs replace the catalogue's (`staging_songs`, by song_id), the
//!   songs and artists rows of what changed are written again, the objects enter the ledger, and
//!   the songs are listed in `changed_songs` for load-facts to match their plays again;
//! - a round of **log objects** COPYs each through a one-entry manifest (a manifest loads exactly
//!   the objects it names; a key used as a COPY prefix would also load every key that starts with
//!   it), compressed as its name says, and tags its lines with the execution and the object, then
//!   stages them in `staging_events` for load-facts to publish.
//!
//! Every object is recorded in `staging_files`. Once the batch commits, what it staged is added to
//! the step's running total, and the next round is planned if objects were left over.

use crate::objects;
use crate::plan::{Listed, Round};
use crate::quarantine::RoundObject;
use crate::{At, Carried, Output, Phase, Planned, STEP};
use serde::{Deserialize, Serialize};
use sparkify::config::DataSource;
use sparkify::sql::{Codec, Literal, RunId, S3Key, SqlFile, catalogue, render};
use sparkify::{EtlError, Moved};

/// How many objects of each kind one round stages (one of the two is 0), and its log objects (a
/// failed COPY names one by its place in the batch).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundObjects {
    pub log_objects: usize,
    pub song_objects: usize,
    #[serde(default)]
    pub logs: Vec<RoundObject>,
    /// The round's song object when it stages exactly one (the one a failing songs COPY is
    /// narrowed down to, which quarantine then records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub song: Option<RoundObject>,
}

impl At<'_> {
    /// Writes the round's manifests and object list, then submits the round's batch; `staged` is
    /// what the earlier rounds staged.
    pub(crate) async fn submit_round(
        &self,
        number: u32,
        round: Round,
        (staged, carried): (Vec<Moved>, Carried),
    ) -> Result<Output, EtlError> {
        let (s3, run) = (self.s3, &self.run);
        let source = &self.deps.config.source;
        let folder = format!("manifests/{}/round-{number:03}/", run.as_str());
        let manifest_key = |name: String| {
            S3Key::parse(&format!("{folder}{name}")).map_err(|why| {
                EtlError::InvalidInput(format!("manifest key for run {}: {why}", run.as_str()))
            })
        };
        let staged_at = crate::now_utc();
        // Every file of the round is written at once (none names another's contents, only its
        // key), before the batch that reads them is submitted.
        let mut writes = Vec::with_capacity(round.events.len() + 3);
        let list_key = manifest_key("objects.json".into())?;
        let body = objects::object_list(run.as_str(), &staged_at, &round.events, &round.songs);
        writes.push((list_key.clone(), body));
        let objects_key = manifest_key("objects.manifest".into())?;
        writes.push((
            objects_key.clone(),
            objects::manifest(&source.manifest_bucket, [&list_key]),
        ));
        let mut event_manifests = Vec::with_capacity(round.events.len());
        for (index, object) in round.events.iter().enumerate() {
            let key = manifest_key(format!("events-{:02}.manifest", index + 1))?;
            writes.push((
                key.clone(),
                objects::manifest(&source.bucket, [&object.key]),
            ));
            event_manifests.push(key);
        }
        let songs_manifest = if round.songs.is_empty() {
            None
        } else {
            let key = manifest_key("songs.manifest".into())?;
            let body = objects::manifest(&source.bucket, round.songs.iter().map(|o| &o.key));
            writes.push((key.clone(), body));
            Some(key)
        };
        objects::put_all(s3, source.manifests(), writes).await?;
        let sqls = round_statements(
            source,
            run,
            &objects_key,
            &round.events,
            &event_manifests,
            songs_manifest.as_ref(),
        )?;
        let token = self.step.client_token(&format!("{STEP}/copy/{number}"));
        let id = self
            .deps
            .data_api
            .submit(sqls, &token, &format!("sparkify-{STEP}"))
            .await?;
        tracing::info!(
            step = STEP,
            round = number,
            statement_id = %id,
            log_objects = round.events.len(),
            song_objects = round.songs.len(),
            more = round.more,
            "round submitted"
        );
        let planned = Planned::of(&round, &carried.listing);
        let mut out = self.submitted(&id, Phase::Copy, number, staged, carried);
        out.more = round.more;
        out.round_objects = RoundObjects {
            log_objects: round.events.len(),
            song_objects: round.songs.len(),
            logs: round
                .events
                .iter()
                .map(|object| RoundObject {
                    key: object.key.as_str().to_owned(),
                    etag: object.etag.clone(),
                    size: object.size,
                })
                .collect(),
            song: match round.songs.as_slice() {
                [object] => Some(RoundObject {
                    key: object.key.as_str().to_owned(),
                    etag: object.etag.clone(),
                    size: object.size,
                }),
                _ => None,
            },
        };
        out.planned = Some(planned);
        Ok(out)
    }

    /// After round `current` committed: the next round, or the end.
    pub(crate) async fn round_committed(
        &self,
        current: Output,
        rows_affected: Vec<i64>,
    ) -> Result<Output, EtlError> {
        let committed = round_moved(&current.round_objects, &rows_affected)?;
        tracing::info!(step = STEP, round = current.round, rows_affected = ?rows_affected, "round committed");
        let staged = add_round(current.staged.clone(), committed);
        if current.more {
            return self
                .next_round(current.round + 1, staged, current.carried)
                .await;
        }
        tracing::info!(step = STEP, round = current.round, "every object is staged");
        let id = current.step.statement_id.as_str();
        let mut out = self.finished(id, current.phase, current.round, staged, current.carried);
        out.step.rows_affected = rows_affected;
        Ok(out)
    }
}

/// What a committed round staged: its events and the log objects they came from, its songs and
/// their objects. Which statements of the batch stage the rows follows from the round's objects.
fn round_moved(objects: &RoundObjects, rows_affected: &[i64]) -> Result<Vec<Moved>, EtlError> {
    let counted = [
        ("events", catalogue::EVENTS_STAGE),
        ("songs", catalogue::COPY_STAGING_SONGS),
    ];
    let rows = sparkify::step::moved(&counted, &round_files(objects), rows_affected)?;
    let sources = [
        ("log objects", objects.log_objects),
        ("song objects", objects.song_objects),
    ]
    .map(|(what, count)| {
        i64::try_from(count)
            .map(|count| Moved::new(what, count))
            .map_err(|_| EtlError::InvalidInput(format!("round_objects: {count} {what}")))
    });
    let mut figures = Vec::with_capacity(4);
    for (rows, source) in rows.into_iter().zip(sources) {
        figures.extend([rows, source?]);
    }
    Ok(figures)
}

/// `staged` with a committed round's figures added, kind by kind, in the order each kind came.
fn add_round(mut staged: Vec<Moved>, round: Vec<Moved>) -> Vec<Moved> {
    for figure in round {
        match staged.iter_mut().find(|total| total.what == figure.what) {
            Some(total) => total.count += figure.count,
            None => staged.push(figure),
        }
    }
    staged
}

/// The statements of a round's batch, in batch order (see `sql/copy/`): each one's catalogue
/// file, and the log object it loads or tags where it is one of a log object's pair. A round of
/// song objects (`with_songs`) has no log objects. The one layout both the batch
/// ([`round_statements`]) and the reading of its rows ([`round_files`]) follow.
pub(crate) fn round_layout<T>(log_objects: &[T], with_songs: bool) -> Vec<(SqlFile, Option<&T>)> {
    if with_songs {
        // Every round locks what it touches first, in the pipeline's one lock order.
        let mut layout = vec![
            (catalogue::LOCK_CATALOGUE, None),
            (catalogue::COPY_STAGING_FILES, None),
            (catalogue::SONGS_LOAD_CREATE, None),
            (catalogue::COPY_STAGING_SONGS, None),
        ];
        layout.extend(catalogue::SONGS_PUBLISH.map(|file| (file, None)));
        return layout;
    }
    let mut layout = vec![
        (catalogue::LOCK_ROUND, None),
        (catalogue::COPY_STAGING_FILES, None),
        (catalogue::EVENTS_LOAD_CREATE, None),
    ];
    for object in log_objects {
        layout.push((catalogue::COPY_STAGING_EVENTS, Some(object)));
        layout.push((catalogue::EVENTS_LOAD_TAG, Some(object)));
    }
    layout.push((catalogue::EVENTS_STAGE, None));
    layout
}

/// The catalogue file of each statement of the batch of a round with these objects.
fn round_files(objects: &RoundObjects) -> Vec<SqlFile> {
    round_layout(&vec![(); objects.log_objects], objects.song_objects > 0)
        .into_iter()
        .map(|(file, _)| file)
        .collect()
}

/// The round's batch (see `sql/copy/`), at most 40 statements: the song objects' if there is a
/// songs manifest, else the log objects'. `objects_key` is the manifest of the round's object list.
pub fn round_statements(
    source: &DataSource,
    run: &RunId,
    objects_key: &S3Key,
    events: &[Listed],
    event_manifests: &[S3Key],
    songs_manifest: Option<&S3Key>,
) -> Result<Vec<String>, EtlError> {
    if songs_manifest.is_some() && !events.is_empty() {
        return Err(EtlError::InvalidInput(
            "a round stages song objects or log objects, not both".into(),
        ));
    }
    // What every COPY names besides its source.
    let with_access = |mut values: Vec<(&'static str, Literal)>| {
        values.push(("copy_role_arn", Literal::role(&source.copy_role_arn)));
        values.push(("region", Literal::region(&source.region)));
        values
    };
    let logs: Vec<(&Listed, &S3Key)> = events.iter().zip(event_manifests).collect();
    round_layout(&logs, songs_manifest.is_some())
        .into_iter()
        .map(|(file, log)| {
            let values = match (file, log, songs_manifest) {
                (catalogue::COPY_STAGING_FILES, ..) => with_access(vec![(
                    "manifest",
                    Literal::s3_uri(&source.manifest_bucket, objects_key),
                )]),
                (catalogue::COPY_STAGING_EVENTS, Some((object, manifest)), _) => with_access(vec![
                    (
                        "manifest",
                        Literal::s3_uri(&source.manifest_bucket, manifest),
                    ),
                    (
                        "jsonpaths",
                        Literal::s3_uri(&source.bucket, &source.jsonpaths_key),
                    ),
                    ("compression", Literal::compression(Codec::of(&object.key))),
                    ("max_errors", Literal::count(source.max_load_errors)),
                ]),
                (catalogue::EVENTS_LOAD_TAG, Some((object, _)), _) => vec![
                    ("run", Literal::run(run)),
                    ("object_key", Literal::key(&object.key)),
                ],
                (catalogue::COPY_STAGING_SONGS, _, Some(manifest)) => with_access(vec![
                    (
                        "manifest",
                        Literal::s3_uri(&source.manifest_bucket, manifest),
                    ),
                    ("max_errors", Literal::count(source.max_load_errors)),
                ]),
                _ if file.text.contains("{{run}}") => vec![("run", Literal::run(run))],
                _ => Vec::new(),
            };
            render(&file, &values)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan;
    use sparkify::testing::config;

    fn listed(key: &str) -> Listed {
        Listed {
            key: S3Key::parse(key).unwrap(),
            etag: "e".into(),
            size: 1,
        }
    }

    fn key(text: &str) -> S3Key {
        S3Key::parse(text).unwrap()
    }

    #[test]
    fn a_full_round_of_log_objects_fits_the_data_apis_forty_statements_and_quotes_every_key() {
        let source = config().source;
        let run = RunId::from_execution("arn:aws:states:us-west-2:1:execution:sm:run-1").unwrap();
        let events: Vec<Listed> = (0..plan::MAX_LOG_OBJECTS_PER_ROUND)
            .map(|i| listed(&format!("log_data/x'; DROP TABLE users; --{i}.json")))
            .collect();
        let manifests: Vec<S3Key> = (0..events.len())
            .map(|i| key(&format!("manifests/run-1/round-001/events-{i:02}.manifest")))
            .collect();
        let sqls = round_statements(
            &source,
            &run,
            &key("manifests/run-1/round-001/objects.manifest"),
            &events,
            &manifests,
            None,
        )
        .unwrap();
        assert_eq!(sqls.len(), 40);
        assert!(sqls[0].contains("LOCK staging_files, staging_events;"));
        assert!(sqls[1].contains("COPY staging_files"));
        assert!(
            sqls[1]
                .contains("FROM 's3://sparkify-work/manifests/run-1/round-001/objects.manifest'")
                && sqls[1].contains("MANIFEST")
        );
        assert!(sqls[3].contains("MANIFEST") && sqls[3].contains("events-00.manifest"));
        assert!(sqls[4].contains("SET run_id = 'run-1',"));
        assert!(sqls[4].contains("object_key = 'log_data/x''; DROP TABLE users; --0.json',"));
        assert!(sqls.iter().all(|sql| !sql.contains("{{")));
        assert!(sqls[39].contains("INSERT INTO staging_events"));
        assert!(sqls.iter().all(|sql| !sql.contains("staging_songs")));
    }

    #[test]
    fn a_compressed_log_object_is_copied_with_its_codec() {
        let source = config().source;
        let run = RunId::from_execution("run-2").unwrap();
        let events = [
            listed("log_data/a.json"),
            listed("log_data/b.json.gz"),
            listed("log_data/c.json.zst"),
        ];
        let manifests: Vec<S3Key> = (1..=3)
            .map(|i| key(&format!("manifests/run-2/round-001/events-{i:02}.manifest")))
            .collect();
        let sqls = round_statements(
            &source,
            &run,
            &key("manifests/run-2/round-001/objects.manifest"),
            &events,
            &manifests,
            None,
        )
        .unwrap();
        let copies: Vec<&String> = sqls
            .iter()
            .filter(|sql| sql.contains("COPY events_load"))
            .collect();
        assert_eq!(copies.len(), 3);
        assert!(!copies[0].contains("\nGZIP\n") && !copies[0].contains("\nZSTD\n"));
        assert!(copies[1].contains("\nGZIP\n"), "{}", copies[1]);
        assert!(copies[2].contains("\nZSTD\n"), "{}", copies[2]);
    }

    #[test]
    fn a_round_of_song_objects_publishes_them_and_touches_no_log_lines() {
        let source = config().source;
        let run = RunId::from_execution("run-2").unwrap();
        let sqls = round_statements(
            &source,
            &run,
            &key("manifests/run-2/round-001/objects.manifest"),
            &[],
            &[],
            Some(&key("manifests/run-2/round-001/songs.manifest")),
        )
        .unwrap();
        assert_eq!(sqls.len(), 16);
        assert!(sqls[0].contains(
            "LOCK load_ledger, load_quarantine, staging_files, staging_songs, changed_songs, songs, artists;"
        ));
        assert!(sqls[15].contains("DELETE FROM load_quarantine") && sqls[15].contains("'run-2'"));
        assert!(sqls[3].contains("COPY songs_load") && sqls[3].contains("songs.manifest"));
        assert!(
            sqls[4].contains("SET song_key = CASE") && sqls[4].contains("song_id = RTRIM(song_id)")
        );
        assert!(
            sqls.iter()
                .any(|sql| sql.contains("INSERT INTO changed_songs"))
        );
        assert!(sqls.iter().any(|sql| sql.contains("INSERT INTO artists")));
        assert!(
            sqls.iter().all(
                |sql| !sql.contains("INTO staging_events") && !sql.contains("COPY events_load")
            )
        );
        let both = round_statements(
            &source,
            &run,
            &key("manifests/run-2/round-001/objects.manifest"),
            &[listed("log_data/a.json")],
            &[key("manifests/run-2/round-001/events-01.manifest")],
            Some(&key("manifests/run-2/round-001/songs.manifest")),
        );
        assert_eq!(both.unwrap_err().name(), "InvalidInput");
    }

    #[test]
    fn a_rounds_figures_add_to_the_earlier_rounds_kind_by_kind() {
        let staged = vec![Moved::new("songs", 3), Moved::new("song objects", 3)];
        let round = vec![
            Moved::new("events", 7),
            Moved::new("log objects", 1),
            Moved::new("songs", 0),
            Moved::new("song objects", 0),
        ];
        let total = add_round(staged, round);
        assert_eq!(
            total
                .iter()
                .map(|m| (m.what.as_str(), m.count))
                .collect::<Vec<_>>(),
            [
                ("songs", 3),
                ("song objects", 3),
                ("events", 7),
                ("log objects", 1)
            ]
        );
    }
}
