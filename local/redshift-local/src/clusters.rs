//! The provisioned clusters the stand-in serves (`--cluster`), and their lifecycle as the
//! Redshift management guide describes it: available → pausing → paused → resuming → available,
//! each move taking time ("pausing typically completes within 15 minutes"; a resumed cluster
//! takes "several minutes" before queries can run; here `--pause-seconds`/`--resume-seconds`).
//!
//! While a cluster is not available, "connections or queries to the cluster aren't available"
//! (Pausing and resuming clusters): the Data API refuses its statements. AWS does not document
//! the error it gives then; the stand-in answers ValidationException, which the functions cannot
//! retry their way past (the strict reading). COPY may assume only an IAM role attached to the
//! cluster, with the error Redshift gives (code 8001).
//!
//! Without `--cluster`, every cluster identifier is served and always available, and COPY takes
//! any role: the tests of the SQL dialect need no cluster set up.
//!
//! Two statuses besides are reached only by a fault switch ([`ClusterFault`], armed through the
//! management API: [`crate::management`]): `available, prep-for-resize` and `available,
//! resize-cleanup`, in which "the cluster is running and available for read and write queries,
//! but cluster operations, such as creating a snapshot, are not available" (Management Guide,
//! cluster status: <https://docs.aws.amazon.com/redshift/latest/mgmt/working-with-clusters.html#rs-mgmt-cluster-status>):
//! statements run, PauseCluster and ResumeCluster are InvalidClusterState. And a PauseCluster or
//! ResumeCluster that takes effect but whose answer is lost (HTTP 500), which an SDK retries.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the Data API answers for a cluster or workgroup it does not know (not in AWS's
/// documentation; the answer a request to a missing workgroup got from AWS, as projects that
/// ran one record it).
pub const UNKNOWN_ENDPOINT: &str = "Redshift endpoint doesn't exist in this region.";

/// The account the stand-in's ARNs name.
pub const ACCOUNT: &str = "123456789012";

/// A served cluster's fixed description.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub identifier: String,
    /// IAM role ARNs attached (in-sync).
    pub iam_roles: Vec<String>,
    /// `DBName`: the database it was created with.
    pub database: String,
    pub node_type: String,
    pub nodes: u32,
}

#[derive(Debug, Clone, Copy)]
enum Move {
    Pause,
    Resume,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Available,
    Pausing(Instant),
    Paused,
    Resuming(Instant),
    /// `available, prep-for-resize` (false) or `available, resize-cleanup` (true), until then.
    Resizing {
        cleanup: bool,
        until: Instant,
    },
}

/// A fault switch on the management API, armed with the stand-in's own action
/// `Action=ArmLocalFault&Fault=<this JSON>` on the management endpoint (the JSON style of
/// [`crate::faults::Fault`]; the switches of `POST /_local/faults` do not reach this API).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ClusterFault {
    /// The next `times` requests of `operation` (PauseCluster, ResumeCluster) that take effect
    /// lose their answer: the cluster moves, the client gets HTTP 500 `InternalFailure` (which
    /// an SDK retries; the retry finds the cluster moved and answers InvalidClusterState).
    LoseAnswer {
        operation: String,
        #[serde(default = "once")]
        times: u32,
    },
    /// Cluster `cluster` is `available, <phase>` (`prep-for-resize` or `resize-cleanup`) for
    /// `millis` milliseconds, then `available`; it must be available when armed.
    Resize {
        cluster: String,
        phase: ResizePhase,
        millis: u64,
    },
}

/// The two statuses of a resize in which the cluster is available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResizePhase {
    PrepForResize,
    ResizeCleanup,
}

fn once() -> u32 {
    1
}

#[derive(Debug)]
struct Cluster {
    spec: ClusterSpec,
    state: State,
    pauses: u32,
    resumes: u32,
}

impl Cluster {
    /// The state now: a move whose time is up has ended.
    fn settle(&mut self) -> State {
        let now = Instant::now();
        self.state = match self.state {
            State::Pausing(done) if now >= done => State::Paused,
            State::Resuming(done) if now >= done => State::Available,
            State::Resizing { until, .. } if now >= until => State::Available,
            other => other,
        };
        self.state
    }
}

/// What DescribeClusters, PauseCluster and ResumeCluster answer about one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterView {
    pub identifier: String,
    pub status: &'static str,
    /// `ClusterAvailabilityStatus`.
    pub availability: &'static str,
    pub iam_roles: Vec<String>,
    pub database: String,
    pub node_type: String,
    pub nodes: u32,
}

/// The management API's errors, by AWS's codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterError {
    /// ClusterNotFound (HTTP 404).
    NotFound(String),
    /// InvalidClusterState (HTTP 400).
    InvalidState(String),
    /// InvalidParameterValue (HTTP 400): a fault switch the stand-in cannot arm.
    InvalidParameter(String),
}

#[derive(Debug)]
pub struct Clusters {
    clusters: Mutex<BTreeMap<String, Cluster>>,
    /// The Serverless workgroups served (`--workgroup`; none: any name is served). A workgroup
    /// has no lifecycle here: it starts on a statement and stops by itself.
    workgroups: Vec<String>,
    /// The databases the warehouse has (`--database`; none: any name is served).
    databases: Vec<String>,
    pause_time: Duration,
    resume_time: Duration,
    /// Armed [`ClusterFault::LoseAnswer`]s: (operation, times left).
    lost_answers: Mutex<Vec<(String, u32)>>,
}

impl Clusters {
    pub fn new(specs: Vec<ClusterSpec>, pause_time: Duration, resume_time: Duration) -> Self {
        let clusters = specs
            .into_iter()
            .map(|spec| {
                let cluster = Cluster {
                    spec: spec.clone(),
                    state: State::Available,
                    pauses: 0,
                    resumes: 0,
                };
                (spec.identifier, cluster)
            })
            .collect();
        Self {
            clusters: Mutex::new(clusters),
            workgroups: Vec::new(),
            databases: Vec::new(),
            pause_time,
            resume_time,
            lost_answers: Mutex::new(Vec::new()),
        }
    }

    /// Arms a fault switch: the error text when it cannot be.
    pub fn arm(&self, fault: ClusterFault) -> Result<(), ClusterError> {
        tracing::info!(?fault, "cluster fault armed");
        match fault {
            ClusterFault::LoseAnswer { operation, times } => {
                if !matches!(operation.as_str(), "PauseCluster" | "ResumeCluster") {
                    return Err(ClusterError::InvalidParameter(format!(
                        "lose-answer applies to PauseCluster or ResumeCluster, not {operation}"
                    )));
                }
                if times > 0 {
                    self.lost_answers
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((operation, times));
                }
                Ok(())
            }
            ClusterFault::Resize {
                cluster,
                phase,
                millis,
            } => {
                let mut clusters = self.lock();
                let served = clusters
                    .get_mut(&cluster)
                    .ok_or_else(|| not_found(&cluster))?;
                let now = served.settle();
                if now != State::Available {
                    return Err(ClusterError::InvalidState(format!(
                        "Only an available cluster is resized: cluster {cluster} is {}.",
                        status(now)
                    )));
                }
                served.state = State::Resizing {
                    cleanup: phase == ResizePhase::ResizeCleanup,
                    until: Instant::now() + Duration::from_millis(millis),
                };
                Ok(())
            }
        }
    }

    /// Whether the answer to this request of `operation`, which took effect, is lost (a
    /// [`ClusterFault::LoseAnswer`] fires).
    pub fn answer_lost(&self, operation: &str) -> bool {
        let mut armed = self.lost_answers.lock().unwrap_or_else(|e| e.into_inner());
        let Some(index) = armed.iter().position(|(o, _)| o == operation) else {
            return false;
        };
        armed[index].1 -= 1;
        if armed[index].1 == 0 {
            armed.remove(index);
        }
        tracing::info!(operation, "fault fires: the answer is lost");
        true
    }

    /// Serves these databases only.
    pub fn with_databases(mut self, databases: Vec<String>) -> Self {
        self.databases = databases;
        self
    }

    /// Whether a statement may name `database`: the error when the warehouse has no such
    /// database (PostgreSQL's connection error, which Redshift shares; the Data API does not
    /// document how it reports it, so the submission is refused, which no retry gets past).
    pub fn check_database(&self, database: &str) -> Result<(), String> {
        if self.databases.is_empty() || self.databases.iter().any(|d| d == database) {
            Ok(())
        } else {
            Err(format!("FATAL: database \"{database}\" does not exist"))
        }
    }

    /// Serves these workgroups only.
    pub fn with_workgroups(mut self, workgroups: Vec<String>) -> Self {
        self.workgroups = workgroups;
        self
    }

    /// Whether the Data API may run a statement on workgroup `name_or_arn` (the Data API takes
    /// either): the error message when the stand-in does not serve it.
    pub fn check_workgroup(&self, name_or_arn: &str) -> Result<(), String> {
        let name = name_or_arn.rsplit('/').next().unwrap_or(name_or_arn);
        if self.workgroups.is_empty() || self.workgroups.iter().any(|w| w == name) {
            Ok(())
        } else {
            Err(UNKNOWN_ENDPOINT.to_owned())
        }
    }

    /// Whether the stand-in serves a set of clusters (else any identifier goes).
    pub fn served(&self) -> bool {
        !self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Cluster>> {
        self.clusters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// DescribeClusters: one cluster, or every one.
    pub fn describe(&self, identifier: Option<&str>) -> Result<Vec<ClusterView>, ClusterError> {
        let mut clusters = self.lock();
        match identifier {
            Some(id) => {
                let cluster = clusters.get_mut(id).ok_or_else(|| not_found(id))?;
                Ok(vec![view(cluster)])
            }
            None => Ok(clusters.values_mut().map(view).collect()),
        }
    }

    /// PauseCluster: only an available cluster pauses.
    pub fn pause(&self, identifier: &str) -> Result<ClusterView, ClusterError> {
        self.begin_move(identifier, Move::Pause)
    }

    /// ResumeCluster: only a paused cluster resumes.
    pub fn resume(&self, identifier: &str) -> Result<ClusterView, ClusterError> {
        self.begin_move(identifier, Move::Resume)
    }

    fn begin_move(&self, identifier: &str, how: Move) -> Result<ClusterView, ClusterError> {
        let mut clusters = self.lock();
        let cluster = clusters
            .get_mut(identifier)
            .ok_or_else(|| not_found(identifier))?;
        let (from, verb) = match how {
            Move::Pause => (State::Available, "pause"),
            Move::Resume => (State::Paused, "resume"),
        };
        // AWS documents the fault ("The specified cluster is not in the available state.",
        // ResumeCluster), not its message: the stand-in's names the status.
        let now = cluster.settle();
        if now != from {
            return Err(ClusterError::InvalidState(format!(
                "You can only {verb} a cluster whose status is {}: cluster {identifier} is {}.",
                status(from),
                status(now)
            )));
        }
        let until = Instant::now();
        match how {
            Move::Pause => {
                cluster.state = State::Pausing(until + self.pause_time);
                cluster.pauses += 1;
            }
            Move::Resume => {
                cluster.state = State::Resuming(until + self.resume_time);
                cluster.resumes += 1;
            }
        }
        tracing::info!(
            cluster = identifier,
            status = status(cluster.state),
            "{verb}"
        );
        Ok(view(cluster))
    }

    /// Whether the Data API may run a statement on `identifier` now: the error message when not.
    pub fn check_queries(&self, identifier: &str) -> Result<(), String> {
        let mut clusters = self.lock();
        if clusters.is_empty() {
            return Ok(());
        }
        let Some(cluster) = clusters.get_mut(identifier) else {
            return Err(UNKNOWN_ENDPOINT.to_owned());
        };
        match cluster.settle() {
            State::Available | State::Resizing { .. } => Ok(()),
            other => Err(format!(
                "Cluster {identifier} is {}: connections or queries to the cluster aren't available.",
                status(other)
            )),
        }
    }

    /// Whether COPY on `identifier` may assume `role`: None when it may, else Redshift's error.
    pub fn check_copy_role(
        &self,
        identifier: &str,
        user: &str,
        role: &str,
        region: &str,
    ) -> Option<String> {
        let clusters = self.lock();
        let cluster = clusters.get(identifier)?;
        if cluster.spec.iam_roles.iter().any(|r| r == role) {
            return None;
        }
        Some(format!(
            "ERROR: User arn:aws:redshift:{region}:{ACCOUNT}:dbuser:{identifier}/{user} is not \
             authorized to assume IAM Role {role} (code 8001)"
        ))
    }

    /// Every cluster's status and how often it was paused and resumed (`GET /_local/clusters`).
    pub fn report(&self) -> serde_json::Value {
        let mut clusters = self.lock();
        clusters
            .iter_mut()
            .map(|(id, cluster)| {
                let state = cluster.settle();
                (
                    id.clone(),
                    serde_json::json!({
                        "status": status(state),
                        "pauses": cluster.pauses,
                        "resumes": cluster.resumes,
                    }),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

fn not_found(identifier: &str) -> ClusterError {
    ClusterError::NotFound(format!("Cluster {identifier} not found."))
}

fn status(state: State) -> &'static str {
    match state {
        State::Available => "available",
        State::Pausing(_) => "pausing",
        State::Paused => "paused",
        State::Resuming(_) => "resuming",
        State::Resizing { cleanup: false, .. } => "available, prep-for-resize",
        State::Resizing { cleanup: true, .. } => "available, resize-cleanup",
    }
}

fn view(cluster: &mut Cluster) -> ClusterView {
    let state = cluster.settle();
    ClusterView {
        identifier: cluster.spec.identifier.clone(),
        status: status(state),
        availability: match state {
            // Queries run in both resize statuses ("available for read and write queries").
            State::Available | State::Resizing { .. } => "Available",
            State::Paused => "Unavailable",
            State::Pausing(_) | State::Resuming(_) => "Modifying",
        },
        iam_roles: cluster.spec.iam_roles.clone(),
        database: cluster.spec.database.clone(),
        node_type: cluster.spec.node_type.clone(),
        nodes: cluster.spec.nodes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(pause: u64, resume: u64) -> Clusters {
        Clusters::new(
            vec![ClusterSpec {
                identifier: "sparkify".into(),
                iam_roles: vec!["arn:aws:iam::123456789012:role/copy".into()],
                database: "dev".into(),
                node_type: "ra3.large".into(),
                nodes: 2,
            }],
            Duration::from_millis(pause),
            Duration::from_millis(resume),
        )
    }

    fn status_of(clusters: &Clusters) -> &'static str {
        clusters.describe(Some("sparkify")).unwrap()[0].status
    }

    #[test]
    fn a_cluster_pauses_and_resumes_through_the_documented_statuses_in_time() {
        let clusters = one(50, 50);
        assert_eq!(status_of(&clusters), "available");
        assert_eq!(clusters.pause("sparkify").unwrap().status, "pausing");
        assert!(clusters.check_queries("sparkify").is_err());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(status_of(&clusters), "paused");
        let refused = clusters.check_queries("sparkify").unwrap_err();
        assert!(refused.contains("aren't available"), "{refused}");
        assert_eq!(clusters.resume("sparkify").unwrap().status, "resuming");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(status_of(&clusters), "available");
        assert_eq!(clusters.check_queries("sparkify"), Ok(()));
        assert_eq!(
            clusters.report()["sparkify"],
            serde_json::json!({"status": "available", "pauses": 1, "resumes": 1})
        );
    }

    #[test]
    fn a_move_from_the_wrong_state_or_of_an_unknown_cluster_is_refused_by_name() {
        let clusters = one(10_000, 10_000);
        assert!(matches!(
            clusters.resume("sparkify"),
            Err(ClusterError::InvalidState(_))
        ));
        clusters.pause("sparkify").unwrap();
        assert!(matches!(
            clusters.pause("sparkify"),
            Err(ClusterError::InvalidState(_))
        ));
        assert!(matches!(
            clusters.resume("sparkify"),
            Err(ClusterError::InvalidState(_))
        ));
        assert_eq!(
            clusters.describe(Some("other")),
            Err(ClusterError::NotFound("Cluster other not found.".into()))
        );
        assert!(matches!(
            clusters.pause("other"),
            Err(ClusterError::NotFound(_))
        ));
        assert_eq!(
            clusters.check_queries("other").unwrap_err(),
            "Redshift endpoint doesn't exist in this region."
        );
    }

    fn fault(json: &str) -> ClusterFault {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_resize_keeps_the_cluster_available_for_queries_but_not_for_pause_or_resume() {
        let clusters = one(10_000, 10_000);
        for (phase, shown) in [
            ("prep-for-resize", "available, prep-for-resize"),
            ("resize-cleanup", "available, resize-cleanup"),
        ] {
            clusters
                .arm(fault(&format!(
                    r#"{{"kind": "resize", "cluster": "sparkify", "phase": "{phase}", "millis": 50}}"#
                )))
                .unwrap();
            assert_eq!(status_of(&clusters), shown);
            assert_eq!(
                clusters.describe(Some("sparkify")).unwrap()[0].availability,
                "Available"
            );
            assert_eq!(clusters.check_queries("sparkify"), Ok(()));
            for refused in [clusters.pause("sparkify"), clusters.resume("sparkify")] {
                assert!(
                    matches!(&refused, Err(ClusterError::InvalidState(m)) if m.contains(shown)),
                    "{refused:?}"
                );
            }
            std::thread::sleep(Duration::from_millis(60));
            assert_eq!(status_of(&clusters), "available");
        }
        clusters.pause("sparkify").unwrap();
        let refused = clusters.arm(fault(
            r#"{"kind": "resize", "cluster": "sparkify", "phase": "resize-cleanup", "millis": 1}"#,
        ));
        assert!(matches!(refused, Err(ClusterError::InvalidState(_))));
        let unknown = clusters.arm(fault(
            r#"{"kind": "resize", "cluster": "other", "phase": "resize-cleanup", "millis": 1}"#,
        ));
        assert!(matches!(unknown, Err(ClusterError::NotFound(_))));
        assert!(
            serde_json::from_str::<ClusterFault>(
                r#"{"kind": "resize", "cluster": "c", "phase": "resizing", "millis": 1}"#
            )
            .is_err()
        );
    }

    #[test]
    fn a_lost_answer_fires_as_many_times_as_armed_for_its_operation_only() {
        let clusters = one(0, 0);
        clusters
            .arm(fault(
                r#"{"kind": "lose-answer", "operation": "ResumeCluster", "times": 2}"#,
            ))
            .unwrap();
        assert!(!clusters.answer_lost("PauseCluster"));
        assert!(clusters.answer_lost("ResumeCluster"));
        assert!(clusters.answer_lost("ResumeCluster"));
        assert!(!clusters.answer_lost("ResumeCluster"));
        let refused = clusters.arm(fault(
            r#"{"kind": "lose-answer", "operation": "DescribeClusters"}"#,
        ));
        assert!(matches!(refused, Err(ClusterError::InvalidParameter(_))));
    }

    #[test]
    fn copy_may_assume_only_an_attached_role_on_a_served_cluster() {
        let clusters = one(0, 0);
        assert_eq!(
            clusters.check_copy_role(
                "sparkify",
                "etl",
                "arn:aws:iam::123456789012:role/copy",
                "us-west-2"
            ),
            None
        );
        let refused = clusters
            .check_copy_role(
                "sparkify",
                "etl",
                "arn:aws:iam::123456789012:role/other",
                "us-west-2",
            )
            .unwrap();
        assert!(
            refused.contains("is not authorized to assume IAM Role"),
            "{refused}"
        );
        let unserved = Clusters::new(Vec::new(), Duration::ZERO, Duration::ZERO);
        assert_eq!(unserved.check_workgroup("any"), Ok(()));
        let one = Clusters::new(Vec::new(), Duration::ZERO, Duration::ZERO)
            .with_workgroups(vec!["sparkify".into()]);
        assert_eq!(
            one.check_workgroup("arn:aws:redshift-serverless:us-west-2:1:workgroup/sparkify"),
            Ok(())
        );
        assert_eq!(one.check_workgroup("sparkify"), Ok(()));
        assert_eq!(one.check_workgroup("other"), Err(UNKNOWN_ENDPOINT.into()));
        let dev = Clusters::new(Vec::new(), Duration::ZERO, Duration::ZERO)
            .with_databases(vec!["dev".into()]);
        assert_eq!(dev.check_database("dev"), Ok(()));
        assert!(
            dev.check_database("prod")
                .unwrap_err()
                .contains("does not exist")
        );
        assert_eq!(unserved.check_database("any"), Ok(()));
        assert!(!unserved.served());
        assert_eq!(unserved.check_queries("any"), Ok(()));
        assert_eq!(
            unserved.check_copy_role("any", "etl", "r", "us-west-2"),
            None
        );
    }
}
