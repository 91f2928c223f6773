//! Which objects a round stages: the pure part of copy-staging, from the S3 listing, what the
//! warehouse already knows (the ledger, and this execution's earlier rounds) and the trigger.

use sparkify::sql::S3Key;
use sparkify::trigger::{Day, Trigger};
use std::collections::{HashMap, HashSet};

/// Log objects per round. A Data API batch holds at most 40 SQL statements; a round takes 10 of its
/// own (lock, object list, temp tables, the song COPY and the catalogue upsert) and 2 per log
/// object (its COPY, then tagging its rows), so 15 log objects fill it exactly.
pub const MAX_LOG_OBJECTS_PER_ROUND: usize = 15;

/// An S3 object as listed: key, ETag (without quotes) and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: S3Key,
    pub etag: String,
    pub size: i64,
}

/// What the warehouse knows, as the planning query returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    /// Key -> ETag of every object in the ledger.
    pub loaded: HashMap<String, String>,
    /// Key -> ETag of every log object in quarantine: the ETag whose COPY failed.
    pub quarantined: HashMap<String, String>,
    /// Keys this execution staged in earlier rounds.
    pub staged: HashSet<String>,
}

/// What one round stages. Log objects are in key order; song objects all go in the first round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    pub events: Vec<Listed>,
    pub songs: Vec<Listed>,
    /// More log objects are left for a later round.
    pub more: bool,
    /// Log objects the trigger names that are left out because they are in quarantine with the
    /// ETag they have now, in key order.
    pub in_quarantine: Vec<String>,
}

impl Round {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.songs.is_empty()
    }
}

/// Plans the next round: objects the ledger has not seen with their current ETag (every log object
/// of the days a backfill names, seen or not), minus those this execution already staged and the
/// log objects in quarantine with their current ETag (a changed one is tried again).
pub fn next_round(
    trigger: &Trigger,
    logs: Vec<Listed>,
    songs: Vec<Listed>,
    known: &Known,
) -> Round {
    let unseen = |object: &Listed| known.loaded.get(object.key.as_str()) != Some(&object.etag);
    let not_staged = |object: &Listed| !known.staged.contains(object.key.as_str());
    let mut events: Vec<Listed> = logs
        .into_iter()
        .filter(not_staged)
        .filter(|object| match trigger {
            Trigger::FullLoad => unseen(object),
            Trigger::NewLogObjects(keys) => keys.contains(&object.key) && unseen(object),
            Trigger::Backfill { from, to } => {
                Day::in_key(object.key.as_str()).is_some_and(|day| (from..=to).contains(&&day))
            }
        })
        .collect();
    events.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    let (in_quarantine, mut events): (Vec<Listed>, Vec<Listed>) = events
        .into_iter()
        .partition(|object| known.quarantined.get(object.key.as_str()) == Some(&object.etag));
    let in_quarantine = in_quarantine
        .into_iter()
        .map(|object| object.key.as_str().to_owned())
        .collect();
    let more = events.len() > MAX_LOG_OBJECTS_PER_ROUND;
    events.truncate(MAX_LOG_OBJECTS_PER_ROUND);
    let mut songs: Vec<Listed> = songs
        .into_iter()
        .filter(|object| unseen(object) && not_staged(object))
        .collect();
    songs.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    Round {
        events,
        songs,
        more,
        in_quarantine,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(key: &str, etag: &str) -> Listed {
        Listed {
            key: S3Key::parse(key).unwrap(),
            etag: etag.into(),
            size: 10,
        }
    }

    fn log(day: u32, etag: &str) -> Listed {
        listed(
            &format!("log_data/2018/11/2018-11-{day:02}-events.json"),
            etag,
        )
    }

    fn keys(objects: &[Listed]) -> Vec<&str> {
        objects.iter().map(|o| o.key.as_str()).collect()
    }

    fn known(loaded: &[(&Listed, &str)], staged: &[&Listed]) -> Known {
        Known {
            loaded: loaded
                .iter()
                .map(|(o, etag)| (o.key.as_str().to_owned(), (*etag).to_owned()))
                .collect(),
            staged: staged.iter().map(|o| o.key.as_str().to_owned()).collect(),
            ..Known::default()
        }
    }

    #[test]
    fn a_quarantined_object_is_left_out_until_its_etag_changes() {
        let (a, b, c) = (log(1, "e1"), log(2, "bad"), log(3, "e3"));
        let mut known = known(&[], &[]);
        known
            .quarantined
            .insert(b.key.as_str().to_owned(), "bad".to_owned());
        for trigger in [
            Trigger::FullLoad,
            Trigger::Backfill {
                from: Day::parse("2018-11-01").unwrap(),
                to: Day::parse("2018-11-30").unwrap(),
            },
        ] {
            let round = next_round(
                &trigger,
                vec![a.clone(), b.clone(), c.clone()],
                vec![],
                &known,
            );
            assert_eq!(keys(&round.events), keys(&[a.clone(), c.clone()]));
            assert_eq!(round.in_quarantine, vec![b.key.as_str().to_owned()]);
        }
        let only_b = Trigger::NewLogObjects(vec![b.key.clone()]);
        let round = next_round(&only_b, vec![b.clone()], vec![], &known);
        assert!(round.is_empty());
        assert_eq!(round.in_quarantine.len(), 1);
        // Fixed: another ETag is planned again.
        let fixed = log(2, "fixed");
        let round = next_round(&only_b, vec![fixed.clone()], vec![], &known);
        assert_eq!(keys(&round.events), keys(&[fixed]));
        assert!(round.in_quarantine.is_empty());
    }

    #[test]
    fn a_nightly_round_takes_what_the_ledger_has_not_seen_or_saw_with_another_etag() {
        let (a, b, c) = (log(1, "e1"), log(2, "e2"), log(3, "e3"));
        let song = listed("song_data/A/A/A/TRAAA.json", "s1");
        let known = known(&[(&a, "e1"), (&b, "old"), (&song, "s1")], &[]);
        let round = next_round(
            &Trigger::FullLoad,
            vec![c.clone(), b.clone(), a],
            vec![song],
            &known,
        );
        assert_eq!(keys(&round.events), keys(&[b, c]));
        assert!(round.songs.is_empty());
        assert!(!round.more);
    }

    #[test]
    fn a_new_object_round_takes_that_object_only_and_skips_it_once_loaded() {
        let (a, b) = (log(1, "e1"), log(2, "e2"));
        let trigger = Trigger::NewLogObjects(vec![b.key.clone()]);
        let round = next_round(
            &trigger,
            vec![a.clone(), b.clone()],
            vec![],
            &Known::default(),
        );
        assert_eq!(keys(&round.events), keys(std::slice::from_ref(&b)));
        let loaded = known(&[(&b, "e2")], &[]);
        assert!(next_round(&trigger, vec![a, b], vec![], &loaded).is_empty());
    }

    #[test]
    fn a_backfill_reloads_its_days_whatever_the_ledger_says() {
        let days: Vec<Listed> = (1..=9).map(|d| log(d, "e")).collect();
        let ledger: Vec<(&Listed, &str)> = days.iter().map(|o| (o, "e")).collect();
        let trigger = Trigger::Backfill {
            from: Day::parse("2018-11-03").unwrap(),
            to: Day::parse("2018-11-05").unwrap(),
        };
        let round = next_round(&trigger, days.clone(), vec![], &known(&ledger, &[]));
        assert_eq!(keys(&round.events), keys(&days[2..5]));
    }

    #[test]
    fn rounds_hold_at_most_fifteen_log_objects_and_skip_what_this_run_staged() {
        let days: Vec<Listed> = (1..=30).map(|d| log(d, "e")).collect();
        let first = next_round(&Trigger::FullLoad, days.clone(), vec![], &Known::default());
        assert_eq!(first.events.len(), MAX_LOG_OBJECTS_PER_ROUND);
        assert!(first.more);
        let staged: Vec<&Listed> = first.events.iter().collect();
        let second = next_round(
            &Trigger::FullLoad,
            days.clone(),
            vec![],
            &known(&[], &staged),
        );
        assert_eq!(keys(&second.events), keys(&days[15..]));
        assert!(!second.more);
    }

    #[test]
    fn songs_are_staged_once_and_reloaded_when_their_etag_changes() {
        let (s1, s2) = (
            listed("song_data/A/1.json", "a"),
            listed("song_data/A/2.json", "b"),
        );
        let trigger = Trigger::NewLogObjects(vec![log(1, "e").key]);
        let loaded = known(&[(&s1, "a"), (&s2, "old")], &[]);
        let round = next_round(&trigger, vec![], vec![s1.clone(), s2.clone()], &loaded);
        assert_eq!(keys(&round.songs), keys(std::slice::from_ref(&s2)));
        let staged = known(&[(&s1, "a"), (&s2, "old")], &[&s2]);
        assert!(next_round(&trigger, vec![], vec![s1, s2], &staged).is_empty());
    }
}
