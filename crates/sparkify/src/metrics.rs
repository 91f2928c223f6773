//! A run's CloudWatch metrics, in the embedded metric format (EMF): one JSON object on a line of
//! its own on standard output, which Lambda sends to CloudWatch Logs, where CloudWatch extracts
//! the metrics. No PutMetricData call and no permission beyond the logs the functions already
//! write ("Using the embedded metric format with Lambda"; the Rust runtime's own lines are plain
//! text even with the JSON log format, and "Lambda does not double-encode any logs already
//! JSON-encoded": "Configuring JSON and plain text log formats").
//!
//! The document follows "Specification: Embedded metric format": a root `_aws` member holding the
//! `Timestamp` (milliseconds since the epoch) and one `CloudWatchMetrics` directive (its
//! `Namespace`, one dimension set, the metrics' names and units); each metric's value and each
//! dimension's value are members of the root. The namespace and the dimension are named here
//! once; the template's dashboard and alarms name them through [`NAMESPACE`] and [`DIMENSION`]
//! (a house-rule test compares them), and every metric a function emits is one of [`Name`].

use serde_json::{Map, Value, json};

/// The namespace of every metric the pipeline emits.
pub const NAMESPACE: &str = "SparkifyETL";
/// The one dimension: the pipeline (the stack's name, `PIPELINE_NAME`), so that two stacks in
/// one account keep their metrics apart.
pub const DIMENSION: &str = "Pipeline";

/// The spec's limit on the metrics of one directive.
const MAX_METRICS: usize = 100;

/// Every metric the functions emit. [`Name::ALL`] is the list the house rules compare with the
/// template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Name {
    /// Rows in each star and staging table after the run (verify-counts).
    SongplaysRows,
    UsersRows,
    SongsRows,
    ArtistsRows,
    TimeRows,
    /// Records this run's loads refused (COPY's load errors and the transforms' refusals).
    RejectedRecords,
    /// Load errors that could not be attributed to this run or another.
    UnattributedRecords,
    /// Plays waiting for their song, and how long the oldest has waited.
    WaitingPlays,
    OldestWaitingPlayHours,
    /// Songs the songs table refuses (no title, no artist id).
    RefusedSongs,
    /// Quality checks that failed.
    FailedChecks,
    /// Plays the run wrote to songplays, new or rewritten (load-facts): the freshness alarm's
    /// metric, which breaches when no run has written one for `FreshnessAlarmHours`.
    PlaysWritten,
    /// The rest of what the steps moved ([`Name::moved`]): events and songs staged from how many
    /// log and song objects (copy-staging), start times added to time (load-facts), users rows
    /// written (load-dimensions).
    EventsStaged,
    LogObjectsLoaded,
    SongsStaged,
    SongObjectsLoaded,
    StartTimesWritten,
    UsersWritten,
    /// Objects the run put in quarantine (copy-staging).
    QuarantinedObjects,
    /// Keys the run's events named that no object answered to (copy-staging).
    MissingObjects,
    /// Hours from the newest play's start time to the run's verification (verify-counts).
    NewestPlayAgeHours,
    /// Seconds from the run's start to its verification (verify-counts).
    RunSeconds,
    /// The run's seconds by step, which add up to `RunSeconds` (verify-counts, from the time
    /// each step was done): from the run's start until create-tables was done (the check of the
    /// running runs and the warehouse's readiness, a cluster's resume included, come first), then
    /// from each step's end to the next one's.
    CreateTablesSeconds,
    CopyStagingSeconds,
    LoadFactsSeconds,
    LoadDimensionsSeconds,
    VerifyCountsSeconds,
    /// Hours from the LastModified of the newest log object the run listed (or its events named)
    /// to the run's end of copy-staging; nightly and new-file runs only (copy-staging).
    NewestLogObjectAgeHours,
}

impl Name {
    pub const ALL: [Name; 28] = [
        Name::SongplaysRows,
        Name::UsersRows,
        Name::SongsRows,
        Name::ArtistsRows,
        Name::TimeRows,
        Name::RejectedRecords,
        Name::UnattributedRecords,
        Name::WaitingPlays,
        Name::OldestWaitingPlayHours,
        Name::RefusedSongs,
        Name::FailedChecks,
        Name::PlaysWritten,
        Name::EventsStaged,
        Name::LogObjectsLoaded,
        Name::SongsStaged,
        Name::SongObjectsLoaded,
        Name::StartTimesWritten,
        Name::UsersWritten,
        Name::QuarantinedObjects,
        Name::MissingObjects,
        Name::NewestPlayAgeHours,
        Name::RunSeconds,
        Name::CreateTablesSeconds,
        Name::CopyStagingSeconds,
        Name::LoadFactsSeconds,
        Name::LoadDimensionsSeconds,
        Name::VerifyCountsSeconds,
        Name::NewestLogObjectAgeHours,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Name::SongplaysRows => "SongplaysRows",
            Name::UsersRows => "UsersRows",
            Name::SongsRows => "SongsRows",
            Name::ArtistsRows => "ArtistsRows",
            Name::TimeRows => "TimeRows",
            Name::RejectedRecords => "RejectedRecords",
            Name::UnattributedRecords => "UnattributedRecords",
            Name::WaitingPlays => "WaitingPlays",
            Name::OldestWaitingPlayHours => "OldestWaitingPlayHours",
            Name::RefusedSongs => "RefusedSongs",
            Name::FailedChecks => "FailedChecks",
            Name::PlaysWritten => "PlaysWritten",
            Name::EventsStaged => "EventsStaged",
            Name::LogObjectsLoaded => "LogObjectsLoaded",
            Name::SongsStaged => "SongsStaged",
            Name::SongObjectsLoaded => "SongObjectsLoaded",
            Name::StartTimesWritten => "StartTimesWritten",
            Name::UsersWritten => "UsersWritten",
            Name::QuarantinedObjects => "QuarantinedObjects",
            Name::MissingObjects => "MissingObjects",
            Name::NewestPlayAgeHours => "NewestPlayAgeHours",
            Name::RunSeconds => "RunSeconds",
            Name::CreateTablesSeconds => "CreateTablesSeconds",
            Name::CopyStagingSeconds => "CopyStagingSeconds",
            Name::LoadFactsSeconds => "LoadFactsSeconds",
            Name::LoadDimensionsSeconds => "LoadDimensionsSeconds",
            Name::VerifyCountsSeconds => "VerifyCountsSeconds",
            Name::NewestLogObjectAgeHours => "NewestLogObjectAgeHours",
        }
    }

    /// The unit CloudWatch records: one of the spec's (CloudWatch's `StandardUnit`).
    pub fn unit(self) -> &'static str {
        match self {
            // Hours is no StandardUnit: an age is a plain number, in hours by its name.
            Name::OldestWaitingPlayHours
            | Name::NewestPlayAgeHours
            | Name::NewestLogObjectAgeHours => "None",
            Name::RunSeconds
            | Name::CreateTablesSeconds
            | Name::CopyStagingSeconds
            | Name::LoadFactsSeconds
            | Name::LoadDimensionsSeconds
            | Name::VerifyCountsSeconds => "Seconds",
            _ => "Count",
        }
    }

    /// The metric of what a step moved, by its `what` ([`crate::Moved`]): every step's.
    pub fn moved(what: &str) -> Option<Name> {
        match what {
            "events" => Some(Name::EventsStaged),
            "log objects" => Some(Name::LogObjectsLoaded),
            "songs" => Some(Name::SongsStaged),
            "song objects" => Some(Name::SongObjectsLoaded),
            "plays" => Some(Name::PlaysWritten),
            "start times" => Some(Name::StartTimesWritten),
            "users" => Some(Name::UsersWritten),
            _ => None,
        }
    }

    /// The metric of a star table's row count, by the table's name.
    pub fn rows_of(table: &str) -> Option<Name> {
        match table {
            "songplays" => Some(Name::SongplaysRows),
            "users" => Some(Name::UsersRows),
            "songs" => Some(Name::SongsRows),
            "artists" => Some(Name::ArtistsRows),
            "time" => Some(Name::TimeRows),
            _ => None,
        }
    }
}

/// One run's metrics, gathered, then written as one EMF line.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    pipeline: String,
    values: Vec<(Name, f64)>,
}

impl Metrics {
    pub fn new(pipeline: &str) -> Self {
        Self {
            pipeline: pipeline.to_owned(),
            values: Vec::new(),
        }
    }

    /// Records `value` for `name`; a name recorded twice keeps the last value (the spec allows
    /// a metric one member of the root).
    pub fn put(&mut self, name: Name, value: f64) -> &mut Self {
        self.values.retain(|(recorded, _)| *recorded != name);
        self.values.push((name, value));
        self
    }

    /// Records what a step moved, each figure as its [`Name::moved`] metric.
    pub fn put_moved(&mut self, moved: &[crate::Moved]) -> &mut Self {
        for figure in moved {
            if let Some(name) = Name::moved(&figure.what) {
                self.put(name, figure.count as f64);
            } else {
                tracing::warn!(what = %figure.what, "a moved figure with no metric");
            }
        }
        self
    }

    /// The EMF document, stamped `timestamp_ms`. Values that are not finite are left out: JSON
    /// has no NaN, and CloudWatch rejects a document whose value is not a number.
    pub fn document(&self, timestamp_ms: i64) -> Value {
        let values: Vec<(Name, f64)> = self
            .values
            .iter()
            .copied()
            .filter(|(_, value)| value.is_finite())
            .take(MAX_METRICS)
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": values.iter().map(|(name, _)| json!({
                        "Name": name.as_str(),
                        "Unit": name.unit(),
                    })).collect::<Vec<_>>(),
                }],
            }),
        );
        root.insert(DIMENSION.into(), Value::String(self.pipeline.clone()));
        for (name, value) in values {
            root.insert(name.as_str().into(), json!(value));
        }
        Value::Object(root)
    }

    /// Writes the document as one line on standard output, where Lambda's log agent takes it.
    pub fn emit(&self) {
        println!("{}", self.document(now_millis()));
    }
}

/// Now, in milliseconds since the epoch: the metrics' timestamp, and the "now" ages and
/// durations are measured to.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_has_the_directive_the_values_and_the_dimension_at_its_root() {
        let mut metrics = Metrics::new("sparkify-prod");
        metrics
            .put(Name::SongplaysRows, 333.0)
            .put(Name::WaitingPlays, 2.0)
            .put(Name::SongplaysRows, 334.0);
        let document = metrics.document(1_700_000_000_000);
        assert_eq!(document["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([[DIMENSION]]));
        assert_eq!(
            directive["Metrics"],
            json!([
                {"Name": "WaitingPlays", "Unit": "Count"},
                {"Name": "SongplaysRows", "Unit": "Count"},
            ])
        );
        assert_eq!(document[DIMENSION], "sparkify-prod");
        assert_eq!(document["SongplaysRows"], 334.0);
        assert_eq!(document["WaitingPlays"], 2.0);
    }

    #[test]
    fn a_value_that_is_not_a_number_is_left_out() {
        let mut metrics = Metrics::new("p");
        metrics
            .put(Name::OldestWaitingPlayHours, f64::NAN)
            .put(Name::RefusedSongs, 0.0);
        let document = metrics.document(0);
        assert!(document.get("OldestWaitingPlayHours").is_none());
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "RefusedSongs", "Unit": "Count"}])
        );
    }

    #[test]
    fn every_name_is_distinct_and_within_the_spec() {
        let names: std::collections::HashSet<&str> = Name::ALL.iter().map(|n| n.as_str()).collect();
        assert_eq!(names.len(), Name::ALL.len());
        assert!(Name::ALL.len() <= MAX_METRICS);
        for name in Name::ALL {
            assert!(!name.as_str().is_empty() && name.as_str().len() <= 1024);
            assert!(name.as_str() != DIMENSION && name.as_str() != "_aws");
        }
    }
}
