//! Fault switches for tests: what a real warehouse and Data API sometimes do, on demand.
//!
//! A test arms a fault with `POST /_local/faults` on the Data API port (a JSON body, one of
//! [`Fault`]'s forms) and clears them all with `DELETE /_local/faults`. Each fault fires on the
//! next `times` requests or statements it matches, then disarms itself. Faults never change what
//! a statement does when it runs: they make it fail as Redshift would, and a failed batch is
//! rolled back whole.

use serde::Deserialize;
use std::sync::Mutex;

/// One fault, as the JSON body names it (`{"kind": "conflict", "statement_name": ..., "times": 1}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fault {
    /// The Data API answers `operation` (`BatchExecuteStatement`, `DescribeStatement`, ...) with
    /// `ThrottlingException`, as it does past its rate limits.
    Throttle {
        operation: String,
        #[serde(default = "once")]
        times: u32,
    },
    /// The Data API answers `operation` only after `millis` milliseconds, as a stalled endpoint
    /// would: a function waiting on it outlives its Task's timeout. The request is then served
    /// as usual. With `statement_name`, only requests that name that statement are delayed.
    Delay {
        operation: String,
        #[serde(default)]
        statement_name: Option<String>,
        millis: u64,
        #[serde(default = "once")]
        times: u32,
    },
    /// A batch named `statement_name` runs every statement, then loses a serializable-isolation
    /// conflict at its commit: rolled back, FAILED with Redshift's error 1023.
    Conflict {
        statement_name: String,
        #[serde(default = "once")]
        times: u32,
    },
    /// Sub-statement `sub_statement` (1-based) of a batch named `statement_name` fails after the
    /// ones before it ran: the batch is rolled back, FAILED at that sub-statement.
    Fail {
        statement_name: String,
        sub_statement: usize,
        #[serde(default = "once")]
        times: u32,
    },
    /// The warehouse connection of a batch named `statement_name` is terminated as sub-statement
    /// `sub_statement` (1-based) starts, with the transaction's earlier work uncommitted.
    DropConnection {
        statement_name: String,
        sub_statement: usize,
        #[serde(default = "once")]
        times: u32,
    },
    /// The batch named `statement_name` waits `millis` before its sub-statement `sub_statement`
    /// (1-based) runs, holding the locks the ones before it took: a test's way to interleave
    /// two transactions at a chosen point.
    Pause {
        statement_name: String,
        sub_statement: usize,
        millis: u64,
        #[serde(default = "once")]
        times: u32,
    },
    /// ExecuteStatement or BatchExecuteStatement (`operation`) fails with the Data API's
    /// server-side fault for it, ExecuteStatementException or BatchExecuteStatementException
    /// ("an environmental error while running", HTTP 500); nothing is run.
    ServerError {
        operation: String,
        #[serde(default = "once")]
        times: u32,
    },
}

fn once() -> u32 {
    1
}

impl Fault {
    fn times(&mut self) -> &mut u32 {
        match self {
            Fault::Throttle { times, .. }
            | Fault::Delay { times, .. }
            | Fault::Conflict { times, .. }
            | Fault::Fail { times, .. }
            | Fault::DropConnection { times, .. }
            | Fault::Pause { times, .. }
            | Fault::ServerError { times, .. } => times,
        }
    }
}

/// What a batch must do, decided when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchFaults {
    /// Lose a serialization conflict at commit.
    pub conflict: bool,
    /// Fail at this 0-based sub-statement.
    pub fail_at: Option<usize>,
    /// Lose the connection as this 0-based sub-statement starts.
    pub drop_at: Option<usize>,
    /// Wait before this 0-based sub-statement, this many milliseconds.
    pub pause_at: Option<(usize, u64)>,
}

/// The armed faults.
#[derive(Debug, Default)]
pub struct Faults {
    armed: Mutex<Vec<Fault>>,
}

impl Faults {
    pub fn arm(&self, fault: Fault) {
        tracing::info!(?fault, "fault armed");
        self.armed.lock().expect("faults lock").push(fault);
    }

    pub fn clear(&self) {
        self.armed.lock().expect("faults lock").clear();
    }

    /// Takes one firing of the first armed fault `matches` accepts; spent faults disarm.
    fn take(&self, matches: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let mut armed = self.armed.lock().expect("faults lock");
        let index = armed.iter().position(&matches)?;
        let fired = armed[index].clone();
        let times = armed[index].times();
        *times = times.saturating_sub(1);
        if *times == 0 {
            armed.remove(index);
        }
        Some(fired)
    }

    /// True when this call of `operation` must be throttled.
    pub fn server_error(&self, operation: &str) -> bool {
        self.take(|f| matches!(f, Fault::ServerError { operation: o, .. } if o == operation))
            .is_some()
    }

    pub fn throttle(&self, operation: &str) -> bool {
        self.take(|f| matches!(f, Fault::Throttle { operation: o, .. } if o == operation))
            .is_some()
    }

    /// How long this call of `operation` (naming statement `name`, if it does) must wait before
    /// it is served, if at all.
    pub fn delay(&self, operation: &str, name: Option<&str>) -> Option<std::time::Duration> {
        let fired = self.take(|f| {
            matches!(f, Fault::Delay { operation: o, statement_name: n, .. }
                if o == operation && (n.is_none() || n.as_deref() == name))
        })?;
        match fired {
            Fault::Delay { millis, .. } => Some(std::time::Duration::from_millis(millis)),
            _ => None,
        }
    }

    /// The faults a statement named `name` with `subs` SQLs runs into (at most one of each kind).
    pub fn for_batch(&self, name: Option<&str>, subs: usize) -> BatchFaults {
        let Some(name) = name else {
            return BatchFaults::default();
        };
        let in_range = |n: usize| (1..=subs).contains(&n);
        let conflict = self
            .take(|f| matches!(f, Fault::Conflict { statement_name, .. } if statement_name == name))
            .is_some();
        let fail_at = match self.take(|f| {
            matches!(f, Fault::Fail { statement_name, sub_statement, .. }
                if statement_name == name && in_range(*sub_statement))
        }) {
            Some(Fault::Fail { sub_statement, .. }) => Some(sub_statement - 1),
            _ => None,
        };
        let drop_at = match self.take(|f| {
            matches!(f, Fault::DropConnection { statement_name, sub_statement, .. }
                if statement_name == name && in_range(*sub_statement))
        }) {
            Some(Fault::DropConnection { sub_statement, .. }) => Some(sub_statement - 1),
            _ => None,
        };
        let pause_at = match self.take(|f| {
            matches!(f, Fault::Pause { statement_name, sub_statement, .. }
                if statement_name == name && in_range(*sub_statement))
        }) {
            Some(Fault::Pause {
                sub_statement,
                millis,
                ..
            }) => Some((sub_statement - 1, millis)),
            _ => None,
        };
        let out = BatchFaults {
            conflict,
            fail_at,
            drop_at,
            pause_at,
        };
        if out != BatchFaults::default() {
            tracing::info!(statement_name = name, faults = ?out, "fault fires");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Fault {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_fault_fires_as_many_times_as_armed_and_only_where_it_matches() {
        let faults = Faults::default();
        faults.arm(parse(
            r#"{"kind": "conflict", "statement_name": "sparkify-load-facts", "times": 2}"#,
        ));
        assert_eq!(
            faults.for_batch(Some("sparkify-other"), 3),
            BatchFaults::default()
        );
        assert_eq!(faults.for_batch(None, 3), BatchFaults::default());
        for _ in 0..2 {
            assert!(faults.for_batch(Some("sparkify-load-facts"), 3).conflict);
        }
        assert!(!faults.for_batch(Some("sparkify-load-facts"), 3).conflict);
    }

    #[test]
    fn sub_statements_count_from_one_and_out_of_range_ones_never_fire() {
        let faults = Faults::default();
        faults.arm(parse(
            r#"{"kind": "fail", "statement_name": "b", "sub_statement": 5}"#,
        ));
        assert_eq!(faults.for_batch(Some("b"), 4).fail_at, None);
        assert_eq!(faults.for_batch(Some("b"), 5).fail_at, Some(4));
        faults.arm(parse(
            r#"{"kind": "drop-connection", "statement_name": "b", "sub_statement": 1}"#,
        ));
        assert_eq!(faults.for_batch(Some("b"), 2).drop_at, Some(0));
    }

    #[test]
    fn throttling_counts_down_per_operation_and_clear_disarms_everything() {
        let faults = Faults::default();
        faults.arm(parse(
            r#"{"kind": "throttle", "operation": "DescribeStatement", "times": 2}"#,
        ));
        assert!(!faults.throttle("BatchExecuteStatement"));
        assert!(faults.throttle("DescribeStatement"));
        faults.clear();
        assert!(!faults.throttle("DescribeStatement"));
    }

    #[test]
    fn an_unknown_kind_or_field_is_refused() {
        assert!(serde_json::from_str::<Fault>(r#"{"kind": "explode"}"#).is_err());
        assert!(
            serde_json::from_str::<Fault>(
                r#"{"kind": "conflict", "statement_name": "b", "tiems": 2}"#
            )
            .is_err()
        );
    }
}
