//! What started an execution, read from the execution input: the nightly schedule (or a manual
//! start) loads everything under the prefixes; an S3 "Object Created" event loads that one object.

use crate::config::DataSource;
use crate::error::EtlError;
use crate::sql::S3Key;
use serde_json::Value;

/// The load an execution performs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Scheduled event, or a manual start whose input names no event type.
    FullLoad,
    /// One new log object, already checked to lie in the data bucket under the log prefix.
    NewLogObject(S3Key),
}

impl Trigger {
    /// Reads an execution input as EventBridge delivers it (the whole event is the input).
    pub fn from_execution_input(input: &Value, source: &DataSource) -> Result<Self, EtlError> {
        let invalid = |why: String| EtlError::InvalidInput(format!("execution input: {why}"));
        let event = input
            .as_object()
            .ok_or_else(|| invalid(format!("expected a JSON object, got {input}")))?;
        match event.get("detail-type").and_then(Value::as_str) {
            None if !event.contains_key("detail-type") => Ok(Self::FullLoad),
            Some("Scheduled Event") => Ok(Self::FullLoad),
            Some("Object Created") => {
                let text_at = |pointer: &str| {
                    input
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
                Ok(Self::NewLogObject(S3Key::parse(key).map_err(invalid)?))
            }
            Some(other) => Err(invalid(format!("unsupported detail-type {other:?}"))),
            None => Err(invalid("detail-type is not a string".into())),
        }
    }
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
            Ok(Trigger::NewLogObject(S3Key::parse(key).unwrap()))
        );
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
