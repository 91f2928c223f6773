//! What the stand-in was asked, counted: S3 requests by kind (LIST, HEAD, GET, PUT, DELETE and
//! the rest) and by who made them (COPY, which the warehouse makes, or a caller such as the
//! functions), and Data API calls by action. `GET /_local/requests` answers the totals since the
//! stand-in started; a run's requests are the difference between two answers around it (the
//! local pipeline and the benchmark take them so), which is exact when nothing else runs.
//!
//! On AWS these are what a run is billed and throttled by: S3 prices requests by kind (LIST and
//! PUT at one rate, GET and HEAD at another), and the Data API's quotas are per action.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Who made an S3 request: COPY (the stand-in's own reads, as Redshift's on AWS), or a caller.
pub const COPY: &str = "copy";
pub const CALLERS: &str = "callers";

/// The counters.
#[derive(Debug, Default)]
pub struct Requests {
    s3: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    data_api: Mutex<BTreeMap<String, u64>>,
}

/// The kind an S3 operation is counted as: the request classes S3's pricing and throttling use.
pub fn s3_kind(operation: &str) -> &'static str {
    match operation {
        "ListObjectsV2" | "ListObjects" | "ListBuckets" => "LIST",
        "HeadObject" | "HeadBucket" => "HEAD",
        "GetObject" => "GET",
        "PutObject" | "CreateBucket" | "CopyObject" => "PUT",
        "DeleteObject" | "DeleteObjects" => "DELETE",
        _ => "OTHER",
    }
}

impl Requests {
    /// One S3 request of `operation`, signed with `access_key` (COPY signs as the stand-in).
    pub fn s3(&self, operation: &str, access_key: Option<&str>) {
        let by = match access_key {
            Some(crate::s3::COPY_ACCESS_KEY) => COPY,
            _ => CALLERS,
        };
        *self
            .s3
            .lock()
            .expect("S3 counters")
            .entry((s3_kind(operation), by))
            .or_default() += 1;
    }

    /// One Data API call of `action` (`BatchExecuteStatement`, `DescribeStatement`, ...).
    pub fn data_api(&self, action: &str) {
        *self
            .data_api
            .lock()
            .expect("Data API counters")
            .entry(action.to_owned())
            .or_default() += 1;
    }

    /// The totals: `{"s3": {KIND: n}, "s3_by": {"copy"|"callers": {KIND: n}}, "data_api":
    /// {ACTION: n}, "data_api_calls": n}`.
    pub fn report(&self) -> Value {
        let s3 = self.s3.lock().expect("S3 counters").clone();
        let mut by_kind: BTreeMap<&str, u64> = BTreeMap::new();
        let mut by_who: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
        for ((kind, who), count) in s3 {
            *by_kind.entry(kind).or_default() += count;
            *by_who.entry(who).or_default().entry(kind).or_default() += count;
        }
        let data_api = self.data_api.lock().expect("Data API counters").clone();
        let calls: u64 = data_api.values().sum();
        json!({"s3": by_kind, "s3_by": by_who, "data_api": data_api, "data_api_calls": calls})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_kind_by_who_and_by_action() {
        let requests = Requests::default();
        requests.s3("ListObjectsV2", Some("role:EtlFunctionsRole"));
        requests.s3("HeadObject", Some("role:EtlFunctionsRole"));
        requests.s3("GetObject", Some(crate::s3::COPY_ACCESS_KEY));
        requests.s3("GetObject", Some(crate::s3::COPY_ACCESS_KEY));
        requests.s3("PutObject", None);
        requests.data_api("BatchExecuteStatement");
        requests.data_api("DescribeStatement");
        requests.data_api("DescribeStatement");
        let report = requests.report();
        assert_eq!(
            report["s3"],
            json!({"GET": 2, "HEAD": 1, "LIST": 1, "PUT": 1})
        );
        assert_eq!(report["s3_by"]["copy"], json!({"GET": 2}));
        assert_eq!(report["s3_by"]["callers"]["LIST"], 1);
        assert_eq!(report["data_api"]["DescribeStatement"], 2);
        assert_eq!(report["data_api_calls"], 3);
    }
}
