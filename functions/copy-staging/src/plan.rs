//! Which objects a round stages, decided in the warehouse: one batch (`sql/copy/plan_*.sql`) asks
//! `load_listing` for what this execution listed that the ledger does not hold with its current
//! ETag (every object of the days a backfill names), that is not in quarantine with it and that
//! no earlier round staged. Each answer is bounded (a round's objects and one more, and the first
//! quarantined keys), so what the function reads back does not grow with the catalogue. Song
//! objects go first, in rounds of their own, so that the plays of the same run's log objects find
//! their songs.

use crate::list::Listing;
use crate::quarantine::RoundObject;
use crate::{At, Carried, Output, Phase, SKIPPED_SHOWN, STEP};
use aws_sdk_redshiftdata::types::Field;
use serde::{Deserialize, Serialize};
use sparkify::sql::{Literal, RunId, S3Key, catalogue, render_named};
use sparkify::trigger::Skipped;
use sparkify::{Deps, EtlError, Moved};

/// Log objects per round. A Data API batch holds at most 40 SQL statements; a round of log objects
/// takes 4 of its own (lock, object list, temp table, staging) and 2 per log object (its COPY,
/// then tagging its lines), so 18 log objects fill it.
pub const MAX_LOG_OBJECTS_PER_ROUND: usize = 18;

/// Song objects per round: one COPY through one manifest of at most this many entries (about
/// 1.8 MB; AWS documents no limit on a manifest's size, so the strict reading bounds it), and what
/// the function holds of a round (its plan's rows, the manifest and the object list: a few MB).
pub const MAX_SONG_OBJECTS_PER_ROUND: usize = 20_000;

/// Quarantined keys a plan reads back (the state machine's state is limited to 256 KB).
pub const IN_QUARANTINE_SHOWN: usize = SKIPPED_SHOWN;

/// An S3 object as listed: key, ETag (without quotes) and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: S3Key,
    pub etag: String,
    pub size: i64,
}

/// What one round stages: song objects or log objects, never both. Each kind is in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    pub events: Vec<Listed>,
    pub songs: Vec<Listed>,
    /// More objects are left for a later round.
    pub more: bool,
    /// Log objects left out because they are in quarantine with the ETag they have now, in key
    /// order: the first [`IN_QUARANTINE_SHOWN`], and how many there are.
    pub in_quarantine: Vec<String>,
    pub in_quarantine_total: usize,
}

impl Round {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.songs.is_empty()
    }

    /// A round of one log object, which failed in a round with others; whatever that round held
    /// is planned again after it (`more`).
    pub fn alone(object: &RoundObject) -> Result<Self, EtlError> {
        let key = S3Key::parse(&object.key)
            .map_err(|why| EtlError::InvalidInput(format!("round_objects: {why}")))?;
        Ok(Self {
            events: vec![Listed {
                key,
                etag: object.etag.clone(),
                size: object.size,
            }],
            more: true,
            ..Self::default()
        })
    }
}

/// The rounds one call planned, as its output reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    pub log_objects: Vec<String>,
    pub song_objects: usize,
    /// Keys that are not loaded (reported, never loaded): listed keys that cannot be loaded
    /// safely, and keys named by events that were not found or could not be told apart; the
    /// first [`SKIPPED_SHOWN`], and how many there were in all.
    pub skipped: Vec<Skipped>,
    pub skipped_total: usize,
    /// Of `skipped_total`, the keys named by events that no object answers to.
    #[serde(default)]
    pub not_found: usize,
    /// Log objects left out because they are in quarantine with the ETag they have now: the
    /// first [`SKIPPED_SHOWN`], and how many there were.
    #[serde(default)]
    pub in_quarantine: Vec<String>,
    #[serde(default)]
    pub in_quarantine_total: usize,
}

impl Planned {
    /// What `round` stages, with what the listing skipped.
    pub fn of(round: &Round, listing: &Listing) -> Self {
        Self {
            skipped: listing.skipped.clone(),
            skipped_total: listing.skipped_total,
            not_found: listing.not_found,
            in_quarantine: round.in_quarantine.clone(),
            in_quarantine_total: round.in_quarantine_total,
            log_objects: round
                .events
                .iter()
                .map(|o| o.key.as_str().to_owned())
                .collect(),
            song_objects: round.songs.len(),
        }
    }

    /// What two rounds planned in one call stage together. Both carry the one listing's
    /// skipped keys, so a key skipped in both counts once.
    pub fn merge(earlier: Option<Self>, later: Option<Self>) -> Option<Self> {
        let (mut earlier, later) = match (earlier, later) {
            (Some(earlier), Some(later)) => (earlier, later),
            (one, other) => return one.or(other),
        };
        earlier.log_objects.extend(later.log_objects);
        earlier.song_objects += later.song_objects;
        let seen = earlier.skipped_total;
        let new: Vec<Skipped> = later
            .skipped
            .into_iter()
            .filter(|skip| !earlier.skipped.contains(skip))
            .collect();
        earlier.skipped_total = seen.max(later.skipped_total);
        earlier.not_found = earlier.not_found.max(later.not_found);
        earlier.skipped.extend(new);
        earlier.skipped.truncate(SKIPPED_SHOWN);
        // Each plan reads the quarantine again: the later plan's figure is the run's.
        earlier.in_quarantine_total = earlier.in_quarantine_total.max(later.in_quarantine_total);
        for key in later.in_quarantine {
            if !earlier.in_quarantine.contains(&key) {
                earlier.in_quarantine.push(key);
            }
        }
        earlier.in_quarantine.truncate(SKIPPED_SHOWN);
        Some(earlier)
    }
}

/// The plan batch of a round of execution `run`: its log objects, its song objects (at most
/// `max_songs`) and the quarantined objects it leaves out (results 1, 2 and 3).
pub fn statements(
    run: &RunId,
    max_songs: usize,
    log_prefix: &S3Key,
) -> Result<Vec<String>, EtlError> {
    let limits = [
        MAX_LOG_OBJECTS_PER_ROUND + 1,
        max_songs + 1,
        IN_QUARANTINE_SHOWN,
    ];
    catalogue::PLAN
        .iter()
        .zip(limits)
        .map(|(file, limit)| {
            let limit = u32::try_from(limit).expect("the limits are small");
            let (from, to) = Literal::key_range(log_prefix);
            let values = [
                ("run", Literal::run(run)),
                ("limit", Literal::count(limit)),
                ("log_keys_from", from),
                ("log_keys_to", to),
            ];
            render_named(file, &values)
        })
        .collect()
}

/// The round the plan batch's three results describe: its song objects if any are left (at most
/// `max_songs`; the log objects then wait for a later round), else its log objects.
pub fn round(
    logs: &[Vec<Field>],
    songs: &[Vec<Field>],
    in_quarantine: &[Vec<Field>],
    max_songs: usize,
) -> Result<Round, String> {
    let mut events = objects(logs)?;
    let mut songs = objects(songs)?;
    let more = if songs.is_empty() {
        events.len() > MAX_LOG_OBJECTS_PER_ROUND
    } else {
        let more = !events.is_empty() || songs.len() > max_songs;
        events.clear();
        more
    };
    events.truncate(MAX_LOG_OBJECTS_PER_ROUND);
    songs.truncate(max_songs);
    let mut total = 0;
    let mut keys = Vec::with_capacity(in_quarantine.len());
    for row in in_quarantine {
        match row.as_slice() {
            [Field::StringValue(key), Field::LongValue(count)] => {
                keys.push(key.clone());
                total = usize::try_from(*count).map_err(|_| format!("a count of {count}"))?;
            }
            other => {
                return Err(format!(
                    "expected (object_key, in_quarantine), got {other:?}"
                ));
            }
        }
    }
    Ok(Round {
        events,
        songs,
        more,
        in_quarantine: keys,
        in_quarantine_total: total,
    })
}

/// Rows of `(object_key, etag, size_bytes)` as objects.
fn objects(rows: &[Vec<Field>]) -> Result<Vec<Listed>, String> {
    rows.iter()
        .map(|row| match row.as_slice() {
            [
                Field::StringValue(key),
                Field::StringValue(etag),
                Field::LongValue(size),
            ] => Ok(Listed {
                key: S3Key::parse(key)?,
                etag: etag.clone(),
                size: *size,
            }),
            other => Err(format!(
                "expected (object_key, etag, size_bytes), got {other:?}"
            )),
        })
        .collect()
}

/// Song objects a round of this run stages at most now.
fn max_songs(carried: &Carried) -> usize {
    carried
        .song_limit
        .unwrap_or(MAX_SONG_OBJECTS_PER_ROUND)
        .clamp(1, MAX_SONG_OBJECTS_PER_ROUND)
}

/// The round a finished plan batch describes: its three results.
async fn read_plan(deps: &Deps, statement_id: &str, max_songs: usize) -> Result<Round, EtlError> {
    let mut results = Vec::with_capacity(catalogue::PLAN.len());
    for n in 1..=catalogue::PLAN.len() {
        results.push(
            deps.data_api
                .result_rows(&format!("{statement_id}:{n}"))
                .await?,
        );
    }
    round(&results[0], &results[1], &results[2], max_songs).map_err(|why| {
        EtlError::DataApiRejected(format!("GetStatementResult {statement_id}: {why}"))
    })
}

impl At<'_> {
    /// Submits round `round`'s plan query; `staged` is what the earlier rounds staged.
    pub(crate) async fn submit_plan(
        &self,
        round: u32,
        staged: Vec<Moved>,
        carried: Carried,
    ) -> Result<Output, EtlError> {
        let sqls = statements(
            &self.run,
            max_songs(&carried),
            &self.deps.config.source.log_prefix,
        )?;
        let token = self.step.client_token(&format!("{STEP}/plan/{round}"));
        let id = self
            .deps
            .data_api
            .submit(sqls, &token, &format!("sparkify-{STEP}-plan"))
            .await?;
        tracing::info!(step = STEP, round, statement_id = %id, "plan submitted");
        Ok(self.submitted(&id, Phase::Plan, round, staged, carried))
    }

    /// After the plan of `current` committed: the round it plans, or the end if it finds nothing
    /// to load.
    pub(crate) async fn planned(&self, current: Output) -> Result<Output, EtlError> {
        let id = current.step.statement_id.as_str();
        let round = read_plan(self.deps, id, max_songs(&current.carried)).await?;
        for key in &round.in_quarantine {
            tracing::warn!(step = STEP, key = %key, "left out: in quarantine with this ETag");
        }
        if round.is_empty() {
            tracing::info!(
                step = STEP,
                round = current.round,
                in_quarantine = round.in_quarantine_total,
                "nothing left to load"
            );
            let mut out = self.finished(
                id,
                current.phase,
                current.round,
                current.staged,
                current.carried,
            );
            out.planned = Some(Planned::of(&round, &out.carried.listing));
            return Ok(out);
        }
        self.submit_round(current.round, round, (current.staged, current.carried))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(key: &str) -> Vec<Field> {
        vec![
            Field::StringValue(key.into()),
            Field::StringValue("e".into()),
            Field::LongValue(7),
        ]
    }

    fn logs(n: usize) -> Vec<Vec<Field>> {
        (1..=n)
            .map(|day| object(&format!("log_data/2018/11/2018-11-{day:02}-events.json")))
            .collect()
    }

    #[test]
    fn a_round_takes_at_most_eighteen_log_objects_and_knows_when_more_are_left() {
        let round = round(&logs(19), &[], &[], MAX_SONG_OBJECTS_PER_ROUND).unwrap();
        assert_eq!(round.events.len(), MAX_LOG_OBJECTS_PER_ROUND);
        assert!(round.more);
        assert_eq!(round.events[0].size, 7);
        let last = super::round(&logs(18), &[], &[], MAX_SONG_OBJECTS_PER_ROUND).unwrap();
        assert_eq!(last.events.len(), 18);
        assert!(!last.more);
    }

    #[test]
    fn a_round_takes_at_most_its_song_objects_and_knows_when_more_are_left() {
        let songs: Vec<Vec<Field>> = (0..=MAX_SONG_OBJECTS_PER_ROUND)
            .map(|n| object(&format!("song_data/A/{n:06}.json")))
            .collect();
        let round = round(&[], &songs, &[], MAX_SONG_OBJECTS_PER_ROUND).unwrap();
        assert_eq!(round.songs.len(), MAX_SONG_OBJECTS_PER_ROUND);
        assert!(round.more);
        // Songs first, in a round of their own: the log objects wait for the next round.
        let first = super::round(&logs(2), &songs[1..], &[], MAX_SONG_OBJECTS_PER_ROUND).unwrap();
        assert_eq!(
            (first.events.len(), first.songs.len(), first.more),
            (0, MAX_SONG_OBJECTS_PER_ROUND, true)
        );
        let last = super::round(&[], &songs[1..], &[], MAX_SONG_OBJECTS_PER_ROUND).unwrap();
        assert_eq!(
            (last.songs.len(), last.more),
            (MAX_SONG_OBJECTS_PER_ROUND, false)
        );
    }

    #[test]
    fn the_quarantined_keys_come_with_how_many_there_are_in_all() {
        let row = |key: &str| vec![Field::StringValue(key.into()), Field::LongValue(42)];
        let round = round(
            &[],
            &[],
            &[row("log_data/a.json"), row("log_data/b.json")],
            MAX_SONG_OBJECTS_PER_ROUND,
        )
        .unwrap();
        assert!(round.is_empty());
        assert_eq!(
            round.in_quarantine,
            vec!["log_data/a.json", "log_data/b.json"]
        );
        assert_eq!(round.in_quarantine_total, 42);
    }

    #[test]
    fn an_answer_of_another_shape_is_an_error_that_says_what_it_got() {
        let wrong = vec![vec![Field::StringValue("log_data/a.json".into())]];
        let err = round(&wrong, &[], &[], MAX_SONG_OBJECTS_PER_ROUND).unwrap_err();
        assert!(
            err.contains("expected (object_key, etag, size_bytes)"),
            "{err}"
        );
        let unsafe_key = vec![object("log_data/a\nb.json")];
        assert!(round(&unsafe_key, &[], &[], MAX_SONG_OBJECTS_PER_ROUND).is_err());
    }

    #[test]
    fn the_plan_asks_one_more_object_than_a_round_takes_of_this_run_only() {
        let run = RunId::from_execution("run-7").unwrap();
        let logs = S3Key::parse("log_data/").unwrap();
        let sqls = statements(&run, MAX_SONG_OBJECTS_PER_ROUND, &logs).unwrap();
        assert_eq!(sqls.len(), 3);
        // Log objects are the listed keys under the log prefix (a listing handed on by a run with
        // another prefix keeps none of the old one's), and the ledger is read for that range.
        assert!(
            sqls[0].contains("g.object_key >= 'log_data/' AND g.object_key < 'log_data0'"),
            "{}",
            sqls[0]
        );
        assert!(
            sqls[0].contains("l.object_key >= 'log_data/' AND l.object_key < 'log_data0'"),
            "{}",
            sqls[0]
        );
        assert!(sqls[0].contains("LIMIT 19;"), "{}", sqls[0]);
        assert!(sqls[1].contains(&format!("LIMIT {};", MAX_SONG_OBJECTS_PER_ROUND + 1)));
        assert!(sqls[2].contains("LIMIT 20;"));
        for sql in &sqls {
            assert!(sql.contains("l.run_id = 'run-7'"), "{sql}");
            assert!(sql.contains("s.run_id = 'run-7'"), "{sql}");
        }
    }

    #[test]
    fn rounds_planned_in_one_call_are_reported_together() {
        let skip = |key: &str| Skipped {
            key: key.into(),
            reason: "r".into(),
        };
        let round = |logs: &[&str], songs, skipped: Vec<Skipped>| Planned {
            log_objects: logs.iter().map(|k| (*k).to_owned()).collect(),
            song_objects: songs,
            skipped_total: skipped.len(),
            not_found: 1,
            skipped,
            in_quarantine: Vec::new(),
            in_quarantine_total: 0,
        };
        let first = round(
            &["log_data/a"],
            3,
            vec![skip("log_data/x\n"), skip("song_data/y\n")],
        );
        let second = round(&["log_data/b"], 0, vec![skip("log_data/x\n")]);
        let both = Planned::merge(Some(first.clone()), Some(second)).unwrap();
        assert_eq!(both.log_objects, vec!["log_data/a", "log_data/b"]);
        assert_eq!(
            (
                both.song_objects,
                both.skipped_total,
                both.skipped.len(),
                both.not_found
            ),
            (3, 2, 2, 1)
        );
        assert_eq!(
            Planned::merge(None, Some(first.clone())),
            Some(first.clone())
        );
        assert_eq!(Planned::merge(Some(first.clone()), None), Some(first));
        assert_eq!(Planned::merge(None, None), None);
    }
}
