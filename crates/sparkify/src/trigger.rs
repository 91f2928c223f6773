//! What started an execution, read from the execution input: the nightly schedule (or a manual
//! start) loads every object under the prefixes that the ledger has not seen; an S3 "Object
//! Created" event loads that one object, and a window of them (`"detail-type": "New log files"`,
//! which the starter makes from one batch of the new-file queue) loads the objects they name; a
//! manual start with `{"backfill": {"from": "YYYY-MM-DD",
//! "to": "YYYY-MM-DD"}}` reloads the log objects of those days.

use crate::config::DataSource;
use crate::error::EtlError;
use crate::sql::S3Key;
use serde_json::Value;

/// The load an execution performs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Scheduled event, or a manual start whose input names no event type: every object the
    /// ledger has not seen (or has seen with another ETag).
    FullLoad,
    /// New log objects (one event's, or a window's), each checked to lie in the data bucket under
    /// the log prefix; in key order, each once.
    NewLogObjects(Vec<S3Key>),
    /// The log objects whose key names a day from `from` to `to` (inclusive, `YYYY-MM-DD`),
    /// reloaded whatever the ledger says.
    Backfill { from: Day, to: Day },
}

/// A calendar day written `YYYY-MM-DD`; the text orders as the days do.
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
        if shaped && (1..=12).contains(&number(5..7)) && (1..=31).contains(&number(8..10)) {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!("{text:?} is not a day written YYYY-MM-DD"))
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
        match event.get("detail-type").and_then(Value::as_str) {
            None if !event.contains_key("detail-type") => Ok(Self::FullLoad),
            Some("Scheduled Event") => Ok(Self::FullLoad),
            Some("Object Created") => Ok(Self::NewLogObjects(vec![new_object(input, source)?])),
            Some(WINDOW) => {
                let events = input
                    .get("events")
                    .and_then(Value::as_array)
                    .filter(|events| !events.is_empty())
                    .ok_or_else(|| {
                        invalid(format!("{WINDOW:?} needs a non-empty \"events\" array"))
                    })?;
                let mut keys = Vec::with_capacity(events.len());
                for event in events {
                    if event.get("detail-type").and_then(Value::as_str) != Some("Object Created") {
                        return Err(invalid(format!(
                            "{WINDOW:?} holds an event that is not Object Created: {event}"
                        )));
                    }
                    keys.push(new_object(event, source)?);
                }
                keys.sort_by(|a, b| a.as_str().cmp(b.as_str()));
                keys.dedup();
                Ok(Self::NewLogObjects(keys))
            }
            Some(other) => Err(invalid(format!("unsupported detail-type {other:?}"))),
            None => Err(invalid("detail-type is not a string".into())),
        }
    }
}

/// The detail-type of a window of new-file events, as the starter (statemachine/start.asl.json)
/// writes it: `{"detail-type": "New log files", "time", "id", "events": [Object Created ...]}`.
pub const WINDOW: &str = "New log files";

/// The key an S3 Object Created event names, checked to lie in the data bucket under the log
/// prefix.
fn new_object(event: &Value, source: &DataSource) -> Result<S3Key, EtlError> {
    let invalid = |why: String| EtlError::InvalidInput(format!("execution input: {why}"));
    let text_at = |pointer: &str| {
        event
            .pointer(pointer)
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("Object Created event without {pointer}")))
    };
    let bucket = text_at("/detail/bucket/name")?;
    let key = text_at("/detail/object/key")?;
    if bucket != source.bucket.as_str() {
        return Err(invalid(format!(
            "object is in bucket {bucket:?}, not the data bucket {:?}",
            source.bucket.as_str()
        )));
    }
    if !key.starts_with(source.log_prefix.as_str()) {
        return Err(invalid(format!(
            "object key {key:?} is not under the log prefix {:?}",
            source.log_prefix.as_str()
        )));
    }
    S3Key::parse(key).map_err(invalid)
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

    #[test]
    fn an_object_created_event_loads_its_key() {
        let key = "log_data/2018/11/2018-11-30-events.json";
        assert_eq!(
            Trigger::from_execution_input(&object_created("udacity-dend", key), &source()),
            Ok(Trigger::NewLogObjects(vec![S3Key::parse(key).unwrap()]))
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
            Ok(Trigger::NewLogObjects(vec![
                S3Key::parse(b).unwrap(),
                S3Key::parse(a).unwrap()
            ]))
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
            object_created("udacity-dend", "log_data/a\\b.json"),
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
