//! What started an execution, read from the execution input: the nightly schedule (or a manual
//! start) loads every object under the prefixes that the ledger has not seen; an S3 "Object
//! Created" event loads that one object, and a window of them (`"detail-type": "New log files"`,
//! which the starter makes from one batch of the new-file queue) loads the objects they name; a
//! manual start with `{"backfill": {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}}` reloads the log
//! objects of those days; `{"continue": {"after": "<execution>"}}`, which the state machine starts
//! when a run left objects for the next, loads what that run left.
//!
//! S3 spells keys in its events two ways. Its event notifications URL-encode them ("The object key
//! name value is URL encoded. For example, "red flower.jpg" becomes "red+flower.jpg"": S3 User
//! Guide, "Event message structure"); for the events it sends to EventBridge the guide says nothing
//! ("Information about the Amazon S3 object involved in the event", "EventBridge event message
//! structure"), and public code reads them both as raw and as encoded. So a key is read every way
//! it can be ([`EventKey::readings`]), and copy-staging loads the one object that exists among them
//! (checked with the event's ETag when several do), never another.

use crate::config::DataSource;
use crate::error::EtlError;
use crate::sql::{RunId, S3Key};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The load an execution performs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Scheduled event, or a manual start whose input names no event type: every object the
    /// ledger has not seen (or has seen with another ETag), log and song objects.
    FullLoad,
    /// New log objects (one event's, or a window's), in the order of their keys as sent, each
    /// once; and the keys of the events that cannot be loaded safely, with why.
    NewLogObjects {
        keys: Vec<EventKey>,
        refused: Vec<Skipped>,
    },
    /// The log objects whose key names a day from `from` to `to` (inclusive, `YYYY-MM-DD`),
    /// reloaded whatever the ledger says.
    Backfill { from: Day, to: Day },
    /// What run `after` listed and left for the next run (its load budget ran out): that run
    /// handed its listing on to this execution.
    Continuation { after: RunId },
}

/// A key the product does not load, and why: reported in copy-staging's output, never loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub key: String,
    pub reason: String,
}

/// A key as an Object Created event names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventKey {
    /// The key as the event spells it.
    pub sent: String,
    /// The object's ETag as the event gives it, if it does (without quotes).
    pub etag: Option<String>,
    /// The keys it may mean, each under the log prefix and safe to load, the spelling as sent
    /// first: [`EventKey::readings`].
    pub readings: Vec<S3Key>,
    /// Why a reading under the log prefix cannot be loaded (a control character, a backslash),
    /// if one cannot: said when no other reading is found.
    pub unloadable: Option<String>,
}

impl EventKey {
    /// The distinct keys `sent` may mean: as sent; URL-decoded as form data (`+` a space, `%XX`
    /// a byte), as S3's event notifications encode keys; and percent-decoded with `+` kept. A
    /// decoding that is not valid (a stray `%`, bytes that are not UTF-8) is no reading.
    pub fn readings(sent: &str) -> Vec<String> {
        let mut out = vec![sent.to_owned()];
        for plus_is_space in [true, false] {
            if let Some(decoded) = percent_decoded(sent, plus_is_space)
                && !out.contains(&decoded)
            {
                out.push(decoded);
            }
        }
        out
    }
}

/// `text` with every `%XX` made the byte it names (and `+` a space, if `plus_is_space`); None if a
/// `%` is not followed by two hex digits or the bytes are not UTF-8.
fn percent_decoded(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'%' => {
                let hex = text.get(at + 1..at + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                at += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                at += 1;
            }
            byte => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The execution that takes on what run `run` left when its load budget ran out: `continued-` and
/// 40 hex digits of a SHA-256 of `run`'s name (50 characters of Step Functions' 80), so every try
/// of that start names the same execution and Step Functions starts it once.
pub fn continuation_of(run: &RunId) -> RunId {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(run.as_str().as_bytes());
    let hex: String = digest
        .iter()
        .take(20)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    RunId::from_execution(&format!("continued-{hex}")).expect("a name of 50 safe characters")
}

/// A calendar day written `YYYY-MM-DD`, one that exists; the text orders as the days do.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day(String);

impl Day {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bytes = text.as_bytes();
        let shaped = bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
        let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().unwrap_or(0);
        if !shaped {
            return Err(format!("{text:?} is not a day written YYYY-MM-DD"));
        }
        let (year, month, day) = (number(0..4), number(5..7), number(8..10));
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => 0,
        };
        if (1..=days_in_month).contains(&day) {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!("{text:?} is not a day of the calendar"))
        }
    }

    /// The last `YYYY-MM-DD` in the object's name (the part after the last `/`), as the Sparkify
    /// logs are named (`2018-11-05-events.json`).
    pub fn in_key(key: &str) -> Option<Self> {
        let name = key.rsplit('/').next().unwrap_or(key);
        (0..name.len().saturating_sub(9))
            .rev()
            .filter(|&start| name.is_char_boundary(start) && name.is_char_boundary(start + 10))
            .find_map(|start| Self::parse(&name[start..start + 10]).ok())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Trigger {
    /// Reads an execution input as EventBridge delivers it (the whole event is the input).
    pub fn from_execution_input(input: &Value, source: &DataSource) -> Result<Self, EtlError> {
        let invalid = |why: String| EtlError::InvalidInput(format!("execution input: {why}"));
        let event = input
            .as_object()
            .ok_or_else(|| invalid(format!("expected a JSON object, got {input}")))?;
        if let Some(range) = event.get("backfill") {
            let day = |name: &str| {
                range
                    .get(name)
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(format!("backfill needs \"{name}\": \"YYYY-MM-DD\"")))
                    .and_then(|text| Day::parse(text).map_err(invalid))
            };
            let (from, to) = (day("from")?, day("to")?);
            if from > to {
                return Err(invalid(format!(
                    "backfill from {} is after to {}",
                    from.as_str(),
                    to.as_str()
                )));
            }
            return Ok(Self::Backfill { from, to });
        }
        if let Some(continued) = event.get("continue") {
            let after = continued
                .get("after")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("continue needs \"after\": \"<execution>\"".into()))?;
            return RunId::from_execution(after)
                .map(|after| Self::Continuation { after })
                .map_err(invalid);
        }
        match event.get("detail-type").and_then(Value::as_str) {
            None if !event.contains_key("detail-type") => Ok(Self::FullLoad),
            Some("Scheduled Event") => Ok(Self::FullLoad),
            Some("Object Created") => new_objects(std::slice::from_ref(input), source),
            Some(WINDOW) => {
                let events = input
                    .get("events")
                    .and_then(Value::as_array)
                    .filter(|events| !events.is_empty())
                    .ok_or_else(|| {
                        invalid(format!("{WINDOW:?} needs a non-empty \"events\" array"))
                    })?;
                if let Some(event) = events.iter().find(|event| {
                    event.get("detail-type").and_then(Value::as_str) != Some("Object Created")
                }) {
                    return Err(invalid(format!(
                        "{WINDOW:?} holds an event that is not Object Created: {event}"
                    )));
                }
                new_objects(events, source)
            }
            Some(other) => Err(invalid(format!("unsupported detail-type {other:?}"))),
            None => Err(invalid("detail-type is not a string".into())),
        }
    }
}

/// The detail-type of a window of new-file events, as the starter (statemachine/start.asl.json)
/// writes it: `{"detail-type": "New log files", "time", "id", "events": [Object Created ...]}`.
pub const WINDOW: &str = "New log files";

/// The keys a window's Object Created events name, each once in the order of their spelling, and
/// those that cannot be loaded safely.
fn new_objects(events: &[Value], source: &DataSource) -> Result<Trigger, EtlError> {
    let mut keys: Vec<EventKey> = Vec::with_capacity(events.len());
    let mut refused = Vec::new();
    for event in events {
        match event_key(event, source)? {
            Ok(key) => keys.push(key),
            Err(skipped) => refused.push(skipped),
        }
    }
    keys.sort_by(|a, b| a.sent.cmp(&b.sent));
    keys.dedup_by(|later, earlier| later.sent == earlier.sent);
    refused.sort_by(|a, b| a.key.cmp(&b.key));
    refused.dedup();
    Ok(Trigger::NewLogObjects { keys, refused })
}

/// Why a key no reading of which can be loaded is skipped.
pub const UNSAFE_KEY: &str = "cannot be loaded safely";

/// The key an S3 Object Created event names, read every way it can be: in the data bucket under
/// the log prefix (else the event was routed here by mistake: `InvalidInput`), and loadable
/// (else `Err`, a key reported and skipped).
fn event_key(event: &Value, source: &DataSource) -> Result<Result<EventKey, Skipped>, EtlError> {
    let invalid = |why: String| EtlError::InvalidInput(format!("execution input: {why}"));
    let text_at = |pointer: &str| {
        event
            .pointer(pointer)
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("Object Created event without {pointer}")))
    };
    let bucket = text_at("/detail/bucket/name")?;
    let sent = text_at("/detail/object/key")?;
    if bucket != source.bucket.as_str() {
        return Err(invalid(format!(
            "object is in bucket {bucket:?}, not the data bucket {:?}",
            source.bucket.as_str()
        )));
    }
    let under_prefix: Vec<String> = EventKey::readings(sent)
        .into_iter()
        .filter(|key| key.starts_with(source.log_prefix.as_str()))
        .collect();
    if under_prefix.is_empty() {
        return Err(invalid(format!(
            "object key {sent:?} is not under the log prefix {:?}",
            source.log_prefix.as_str()
        )));
    }
    let mut readings = Vec::with_capacity(under_prefix.len());
    let mut why = None;
    for key in &under_prefix {
        match S3Key::parse(key) {
            Ok(key) => readings.push(key),
            Err(reason) => why = why.or(Some(reason)),
        }
    }
    if readings.is_empty() {
        return Ok(Err(Skipped {
            key: sent.to_owned(),
            reason: format!("{UNSAFE_KEY}: {}", why.unwrap_or_default()),
        }));
    }
    let etag = event
        .pointer("/detail/object/etag")
        .and_then(Value::as_str)
        .map(|etag| etag.trim_matches('"').to_owned());
    Ok(Ok(EventKey {
        sent: sent.to_owned(),
        etag,
        readings,
        unloadable: why.map(|why| format!("{UNSAFE_KEY}: {why}")),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{cluster_env, read};
    use serde_json::json;

    fn source() -> DataSource {
        read(&cluster_env()).unwrap().source
    }

    fn object_created(bucket: &str, key: &str) -> Value {
        json!({
            "version": "0", "detail-type": "Object Created", "source": "aws.s3",
            "detail": {"bucket": {"name": bucket}, "object": {"key": key, "size": 10}}
        })
    }

    #[test]
    fn schedule_and_manual_starts_are_full_loads() {
        let scheduled = json!({"detail-type": "Scheduled Event", "source": "aws.events"});
        assert_eq!(
            Trigger::from_execution_input(&scheduled, &source()),
            Ok(Trigger::FullLoad)
        );
        assert_eq!(
            Trigger::from_execution_input(&json!({}), &source()),
            Ok(Trigger::FullLoad)
        );
    }

    /// The trigger of events naming `keys` as sent, each read only as sent (no `%` or `+`).
    fn plain(keys: &[&str]) -> Trigger {
        Trigger::NewLogObjects {
            keys: keys
                .iter()
                .map(|key| EventKey {
                    sent: (*key).to_owned(),
                    etag: None,
                    readings: vec![S3Key::parse(key).unwrap()],
                    unloadable: None,
                })
                .collect(),
            refused: Vec::new(),
        }
    }

    #[test]
    fn an_object_created_event_loads_its_key() {
        let key = "log_data/2018/11/2018-11-30-events.json";
        assert_eq!(
            Trigger::from_execution_input(&object_created("udacity-dend", key), &source()),
            Ok(plain(&[key]))
        );
    }

    #[test]
    fn a_window_loads_the_keys_its_events_name_each_once_in_key_order() {
        let (a, b) = (
            "log_data/2018/11/2018-11-30-events.json",
            "log_data/2018/11/2018-11-29-events.json",
        );
        let window = json!({
            "detail-type": WINDOW, "time": "2026-12-02T06:00:00Z", "id": "e-1",
            "events": [object_created("udacity-dend", a), object_created("udacity-dend", b),
                       object_created("udacity-dend", a)]
        });
        assert_eq!(
            Trigger::from_execution_input(&window, &source()),
            Ok(plain(&[b, a]))
        );
        for bad in [
            json!({"detail-type": WINDOW, "events": []}),
            json!({"detail-type": WINDOW}),
            json!({"detail-type": WINDOW, "events": [object_created("other", a)]}),
            json!({"detail-type": WINDOW, "events": [{"detail-type": "Scheduled Event"}]}),
        ] {
            let err = Trigger::from_execution_input(&bad, &source()).unwrap_err();
            assert_eq!(err.name(), "InvalidInput", "{bad}: {err}");
        }
    }

    #[test]
    fn a_key_is_read_as_sent_and_url_decoded_both_ways() {
        let readings = |sent: &str| EventKey::readings(sent);
        assert_eq!(readings("log_data/a.json"), ["log_data/a.json"]);
        assert_eq!(
            readings("log_data/a+b%3Dc.json"),
            [
                "log_data/a+b%3Dc.json",
                "log_data/a b=c.json",
                "log_data/a+b=c.json"
            ]
        );
        assert_eq!(
            readings("log_data/a%20b.json"),
            ["log_data/a%20b.json", "log_data/a b.json"]
        );
        assert_eq!(
            readings("log_data/%C3%A9t%C3%A9%25.json"),
            ["log_data/%C3%A9t%C3%A9%25.json", "log_data/été%.json"]
        );
        // A stray % or bytes that are not UTF-8 decode to nothing: the key as sent is the one.
        assert_eq!(readings("log_data/100%.json"), ["log_data/100%.json"]);
        assert_eq!(readings("log_data/%FF.json"), ["log_data/%FF.json"]);
    }

    #[test]
    fn a_key_no_reading_of_which_can_be_loaded_is_reported_not_invalid_input() {
        let window = json!({
            "detail-type": WINDOW, "time": "2026-12-02T06:00:00Z", "id": "e-1",
            "events": [object_created("udacity-dend", "log_data/a\\b.json"),
                       object_created("udacity-dend", "log_data/ok.json"),
                       object_created("udacity-dend", "log_data/c%0Ad.json")]
        });
        let Ok(Trigger::NewLogObjects { keys, refused }) =
            Trigger::from_execution_input(&window, &source())
        else {
            panic!("a window")
        };
        assert_eq!(
            refused.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(),
            ["log_data/a\\b.json"]
        );
        assert!(refused[0].reason.starts_with(UNSAFE_KEY), "{refused:?}");
        // As sent, c%0Ad.json is safe; decoded, it holds a line feed, which is said if the key as
        // sent is not found.
        assert_eq!(
            keys.iter().map(|k| k.sent.as_str()).collect::<Vec<_>>(),
            ["log_data/c%0Ad.json", "log_data/ok.json"]
        );
        assert_eq!(
            keys[0].readings,
            [S3Key::parse("log_data/c%0Ad.json").unwrap()]
        );
        assert!(
            keys[0]
                .unloadable
                .as_deref()
                .unwrap()
                .starts_with(UNSAFE_KEY)
        );
    }

    #[test]
    fn the_events_etag_comes_without_its_quotes() {
        let mut event = object_created("udacity-dend", "log_data/a.json");
        event["detail"]["object"]["etag"] = json!("\"b1946ac92492d2347c6235b4d2611184\"");
        let Ok(Trigger::NewLogObjects { keys, .. }) =
            Trigger::from_execution_input(&event, &source())
        else {
            panic!("one key")
        };
        assert_eq!(
            keys[0].etag.as_deref(),
            Some("b1946ac92492d2347c6235b4d2611184")
        );
    }

    #[test]
    fn a_runs_continuation_has_one_name_of_its_own() {
        let run = RunId::from_execution("nightly-2026-12-06T030000Z-abc").unwrap();
        let next = continuation_of(&run);
        assert_eq!(next, continuation_of(&run));
        assert!(next.as_str().starts_with("continued-"));
        assert_eq!(next.as_str().len(), 50);
        assert_ne!(continuation_of(&next), next);
    }

    #[test]
    fn a_continuation_names_the_run_it_continues() {
        let input = json!({"continue": {"after": "nightly-2026-12-06T030000Z-abc"}});
        assert_eq!(
            Trigger::from_execution_input(&input, &source()),
            Ok(Trigger::Continuation {
                after: RunId::from_execution("nightly-2026-12-06T030000Z-abc").unwrap()
            })
        );
        for bad in [json!({"continue": {}}), json!({"continue": {"after": ""}})] {
            let err = Trigger::from_execution_input(&bad, &source()).unwrap_err();
            assert_eq!(err.name(), "InvalidInput", "{bad}: {err}");
        }
    }

    #[test]
    fn a_backfill_names_its_days_and_a_bad_range_is_invalid_input() {
        let input = json!({"backfill": {"from": "2018-11-05", "to": "2018-11-07"}});
        assert_eq!(
            Trigger::from_execution_input(&input, &source()),
            Ok(Trigger::Backfill {
                from: Day::parse("2018-11-05").unwrap(),
                to: Day::parse("2018-11-07").unwrap()
            })
        );
        for bad in [
            json!({"backfill": {"from": "2018-11-07", "to": "2018-11-05"}}),
            json!({"backfill": {"from": "2018-13-01", "to": "2018-12-05"}}),
            json!({"backfill": {"from": "2018-02-29", "to": "2018-03-01"}}),
            json!({"backfill": {"from": "2018-04-31", "to": "2018-05-01"}}),
            json!({"backfill": {"from": "yesterday", "to": "2018-11-05"}}),
            json!({"backfill": {"from": "2018-11-05"}}),
            json!({"backfill": "2018-11"}),
        ] {
            let err = Trigger::from_execution_input(&bad, &source()).unwrap_err();
            assert_eq!(err.name(), "InvalidInput", "{bad}: {err}");
        }
    }

    #[test]
    fn the_day_of_a_key_is_the_last_date_in_its_name() {
        let day = |key| Day::in_key(key).map(|day| day.as_str().to_owned());
        assert_eq!(
            day("log_data/2018/11/2018-11-05-events.json").as_deref(),
            Some("2018-11-05")
        );
        assert_eq!(day("log_data/2018-11-05/events.json"), None);
        assert_eq!(
            day("log_data/é2018-11-30é.json").as_deref(),
            Some("2018-11-30")
        );
        assert_eq!(day("log_data/2018-11-99-events.json"), None);
    }

    #[test]
    fn foreign_buckets_keys_outside_the_prefix_and_odd_inputs_are_invalid_input() {
        for input in [
            object_created("other-bucket", "log_data/a.json"),
            object_created("udacity-dend", "song_data/a.json"),
            json!({"detail-type": "Object Created", "detail": {}}),
            json!({"detail-type": "Object Deleted"}),
            json!({"detail-type": 7}),
            json!("nightly"),
        ] {
            let err = Trigger::from_execution_input(&input, &source()).unwrap_err();
            assert_eq!(err.name(), "InvalidInput", "{input}: {err}");
        }
    }
}
