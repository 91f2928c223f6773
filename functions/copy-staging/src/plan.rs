//! Which objects a round stages, decided in the warehouse: one batch (`sql/copy/plan_*.sql`) asks
//! `load_listing` for what this execution listed that the ledger does not hold with its current
//! ETag (every object of the days a backfill names), that is not in quarantine with it and that
//! no earlier round staged. Each answer is bounded (a round's objects and one more, and the first
//! quarantined keys), so what the function reads back does not grow with the catalogue.

use aws_sdk_redshiftdata::types::Field;
use sparkify::EtlError;
use sparkify::sql::{Literal, RunId, S3Key, catalogue, render};

/// Log objects per round. A Data API batch holds at most 40 SQL statements; a round takes 10 of its
/// own (lock, object list, temp tables, the song COPY and the catalogue upsert) and 2 per log
/// object (its COPY, then tagging its rows), so 15 log objects fill it exactly.
pub const MAX_LOG_OBJECTS_PER_ROUND: usize = 15;

/// Song objects per round: one COPY through one manifest of at most this many entries (about
/// 1.8 MB; AWS documents no limit on a manifest's size, so the strict reading bounds it), and what
/// the function holds of a round (its plan's rows, the manifest and the object list: a few MB).
pub const MAX_SONG_OBJECTS_PER_ROUND: usize = 20_000;

/// Quarantined keys a plan reads back (the state machine's state is limited to 256 KB).
pub const IN_QUARANTINE_SHOWN: usize = crate::SKIPPED_SHOWN;

/// An S3 object as listed: key, ETag (without quotes) and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: S3Key,
    pub etag: String,
    pub size: i64,
}

/// What one round stages. Each kind is in key order.
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
}

/// The plan batch of a round of execution `run`: its log objects, its song objects and the
/// quarantined log objects it leaves out (results 1, 2 and 3).
pub fn statements(run: &RunId) -> Result<Vec<String>, EtlError> {
    let limits = [
        MAX_LOG_OBJECTS_PER_ROUND + 1,
        MAX_SONG_OBJECTS_PER_ROUND + 1,
        IN_QUARANTINE_SHOWN,
    ];
    catalogue::PLAN
        .iter()
        .zip(limits)
        .map(|(file, limit)| {
            let limit = u32::try_from(limit).expect("the limits are small");
            render(
                file,
                &[("run", Literal::run(run)), ("limit", Literal::count(limit))],
            )
        })
        .collect()
}

/// The round the plan batch's three results describe.
pub fn round(
    logs: &[Vec<Field>],
    songs: &[Vec<Field>],
    in_quarantine: &[Vec<Field>],
) -> Result<Round, String> {
    let mut events = objects(logs)?;
    let mut songs = objects(songs)?;
    let more = events.len() > MAX_LOG_OBJECTS_PER_ROUND || songs.len() > MAX_SONG_OBJECTS_PER_ROUND;
    events.truncate(MAX_LOG_OBJECTS_PER_ROUND);
    songs.truncate(MAX_SONG_OBJECTS_PER_ROUND);
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
    fn a_round_takes_at_most_fifteen_log_objects_and_knows_when_more_are_left() {
        let round = round(&logs(16), &[], &[]).unwrap();
        assert_eq!(round.events.len(), MAX_LOG_OBJECTS_PER_ROUND);
        assert!(round.more);
        assert_eq!(round.events[0].size, 7);
        let last = super::round(&logs(15), &[], &[]).unwrap();
        assert_eq!(last.events.len(), 15);
        assert!(!last.more);
    }

    #[test]
    fn a_round_takes_at_most_its_song_objects_and_knows_when_more_are_left() {
        let songs: Vec<Vec<Field>> = (0..=MAX_SONG_OBJECTS_PER_ROUND)
            .map(|n| object(&format!("song_data/A/{n:06}.json")))
            .collect();
        let round = round(&[], &songs, &[]).unwrap();
        assert_eq!(round.songs.len(), MAX_SONG_OBJECTS_PER_ROUND);
        assert!(round.more);
        let last = super::round(&logs(2), &songs[1..], &[]).unwrap();
        assert_eq!(
            (last.events.len(), last.songs.len(), last.more),
            (2, MAX_SONG_OBJECTS_PER_ROUND, false)
        );
    }

    #[test]
    fn the_quarantined_keys_come_with_how_many_there_are_in_all() {
        let row = |key: &str| vec![Field::StringValue(key.into()), Field::LongValue(42)];
        let round = round(&[], &[], &[row("log_data/a.json"), row("log_data/b.json")]).unwrap();
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
        let err = round(&wrong, &[], &[]).unwrap_err();
        assert!(
            err.contains("expected (object_key, etag, size_bytes)"),
            "{err}"
        );
        let unsafe_key = vec![object("log_data/a\nb.json")];
        assert!(round(&unsafe_key, &[], &[]).is_err());
    }

    #[test]
    fn the_plan_asks_one_more_object_than_a_round_takes_of_this_run_only() {
        let run = RunId::from_execution("run-7").unwrap();
        let sqls = statements(&run).unwrap();
        assert_eq!(sqls.len(), 3);
        assert!(sqls[0].contains("LIMIT 16;"), "{}", sqls[0]);
        assert!(sqls[1].contains(&format!("LIMIT {};", MAX_SONG_OBJECTS_PER_ROUND + 1)));
        assert!(sqls[2].contains("LIMIT 20;"));
        for sql in &sqls {
            assert!(sql.contains("l.run_id = 'run-7'"), "{sql}");
            assert!(sql.contains("s.run_id = 'run-7'"), "{sql}");
        }
    }
}
