//! warehouse: the cluster's lifecycle around a run, through the cluster's own API.
//!
//! `wake`, before create-tables: the cluster exists and the COPY role is attached to it
//! (`WarehouseNotFound`, `CopyRoleNotAttached`); an available cluster is ready (`available`, and
//! `available, prep-for-resize` and `available, resize-cleanup`, in which queries run: [`ClusterState::phase`]);
//! a paused one is resumed when the stack pauses it when idle (`PAUSE_CLUSTER_WHEN_IDLE`), else
//! the run fails as `WarehousePaused`; a resuming or pausing one is waited for. Each call answers
//! at once: the state machine waits between calls in a Wait state, so no Lambda sits waiting.
//!
//! `sleep`, when a run ends, succeeded or failed: the last run out pauses the cluster, and only
//! if a run of this stack resumed it. "The last out" comes from the state machine's running
//! executions, newest first ([`turn`]). A workgroup needs none of this (it starts and stops by
//! itself): both actions answer at once.
//!
//! # The marker: "a run of this stack resumed the cluster"
//!
//! An object in the manifest bucket ([`marker_key`], outside `manifests/`, which the bucket's
//! lifecycle rule expires), one per cluster, not per run: it outlives the run that wrote it, so a
//! run that began on a cluster another run had resumed pauses it if it is the last out. Its
//! rules, safe for runs that wake the cluster at once and for a ResumeCluster that is retried:
//!
//! - **Written before ResumeCluster, by every run that finds the cluster paused.** A PUT of the
//!   same key is idempotent: two runs that both read `paused` both write it, and it is there
//!   before the cluster can be anything but paused. It is written again once ResumeCluster has
//!   answered, which undoes a removal by a last run out that found the cluster still paused a
//!   moment before.
//! - **Never removed on the waking path.** A ResumeCluster that fails is followed by a second
//!   DescribeClusters: if the cluster is now resuming or available, someone is waking it
//!   (another run whose ResumeCluster came first, so this one's answers `InvalidClusterState`;
//!   or this very call, whose first answer was lost and whose retry was refused): the run waits
//!   for it like any resuming cluster, and the marker, which is true, stays. If it is still
//!   paused, the run fails (`WarehouseUnavailable`, which the Task retries) and the marker stays
//!   until a last run out finds the cluster paused.
//! - **Removed only by the last run out**: after its PauseCluster, or when it finds the cluster
//!   already paused or pausing (nothing was resumed, or someone paused it).
//!
//! So a cluster a run woke is paused by the last run out (whichever run wrote the marker), and a
//! cluster that was available when the runs began has no marker and is left running. What is
//! left: a person who resumes the cluster by hand while a run's marker is there (a wake that
//! failed, before its run's end) has it paused by the last run out; and a run that reads
//! `paused` in the moment between a last run out's DescribeClusters and its removal of the
//! marker, and whose ResumeCluster and second write both land before that removal, leaves the
//! cluster running after it (a window two API calls wide, which S3's conditional deletes would
//! close).

use serde::{Deserialize, Serialize};
use sparkify::config::Target;
use sparkify::warehouse::{ClusterState, Clusters, Phase};
use sparkify::{Deps, EtlError};
use std::sync::OnceLock;

/// How many `wake` calls a run makes before it gives up on a cluster that does not become
/// available: with the deployed 30-second Wait, half an hour (AWS: a resume takes minutes).
pub const MAX_WAKE_POLLS: u32 = 60;

/// The marker's key in the manifest bucket, for one cluster: under `warehouse/`, never under
/// `manifests/`, whose objects the bucket's lifecycle rule expires (template.yaml).
pub fn marker_key(cluster: &str) -> String {
    format!("warehouse/{cluster}/resumed-by-a-run.json")
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Input {
    /// Before the load: is the warehouse there and ready, and if it is paused, wake it.
    Wake {
        /// `$$.Execution.Id`, for the marker and the logs.
        execution: String,
        /// How many `wake` calls this run has made before this one.
        polls: u32,
    },
    /// After the run: pause the cluster if this is the last run out and a run resumed it.
    Sleep {
        /// `$$.Execution.Id`: its last part is the execution's name.
        execution: String,
        /// The names of the state machine's running executions, newest first (ListExecutions).
        running: Vec<String>,
        /// Set (`{"execution": ...}`) when this run started the run that takes on what it left:
        /// that run is the last out, so this one leaves without waiting for it.
        #[serde(default)]
        continued: Option<serde_json::Value>,
        /// The execution input: a continuation (`{"continue": {"after": ...}}`) does not wait for
        /// the run it continues, which is ending.
        #[serde(default)]
        trigger: Option<serde_json::Value>,
    },
}

/// What a call found and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Output {
    /// `wake`: the warehouse takes statements now. `sleep`: nothing is left to do.
    pub ready: bool,
    /// The cluster's status after the call (`serverless` for a workgroup).
    pub status: String,
    /// `wake`: the calls made so far, this one included.
    pub polls: u32,
    /// What happened, for people: in the execution's history and output.
    pub note: String,
}

/// The clients a call uses, built once per process.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    pub clusters: Clusters,
    pub s3: aws_sdk_s3::Client,
}

impl Lifecycle {
    pub fn new(deps: &Deps) -> Self {
        // An endpoint of its own (a local S3) is addressed path-style.
        let custom_endpoint = std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&deps.aws)
                .force_path_style(custom_endpoint)
                .build(),
        );
        Self {
            clusters: Clusters::new(aws_sdk_redshift::Client::new(&deps.aws)),
            s3,
        }
    }
}

/// Where a run stands among the running executions when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// A run that started later is still running: look again after a while, and pause then if
    /// this run is the last out.
    Linger,
    /// Only runs that started earlier are running: one of them is the last out. Done.
    Leave,
    /// No other run is running: this one pauses, if a run resumed the cluster.
    Last,
}

/// This run's turn, from the running executions newest first (ListExecutions' order). The
/// earliest running run is the one that pauses, after every later one has ended: two runs that
/// end at once see each other, and exactly one of them (the earlier) stays to pause. A run not
/// listed (ListExecutions is eventually consistent) looks again.
pub fn turn(name: &str, running_newest_first: &[String]) -> Turn {
    match running_newest_first.iter().position(|n| n == name) {
        None => Turn::Linger,
        Some(0) if running_newest_first.len() == 1 => Turn::Last,
        Some(0) => Turn::Leave,
        Some(_) => Turn::Linger,
    }
}

/// The cluster's clients, made at the first invocation from its configuration, kept for the process.
static LIFECYCLE: OnceLock<Lifecycle> = OnceLock::new();

/// The function's name: its package's, the Handler the template gives it (`functions/bootstrap`).
pub const NAME: &str = env!("CARGO_PKG_NAME");

/// The Lambda: [`handle`] on the Lambda Runtime API (`sparkify::lambda::serve`), run by this
/// crate's binary (`cargo lambda watch`) and by the stack's one bootstrap (`functions/bootstrap`).
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    sparkify::lambda::serve(|deps, input| async move {
        let lifecycle = LIFECYCLE.get_or_init(|| Lifecycle::new(deps));
        handle(deps, lifecycle, input).await
    })
    .await
}

pub async fn handle(deps: &Deps, lifecycle: &Lifecycle, input: Input) -> Result<Output, EtlError> {
    let warehouse = &deps.config.warehouse;
    let Target::Cluster { identifier, .. } = &warehouse.target else {
        let note = match input {
            Input::Wake { .. } => "a workgroup: ready (it starts on the first statement)",
            Input::Sleep { .. } => "a workgroup: nothing to pause (it stops by itself)",
        };
        return Ok(done("serverless", note));
    };
    let marker = Marker {
        s3: &lifecycle.s3,
        bucket: deps.config.source.manifest_bucket.as_str(),
        owner: deps
            .config
            .source
            .manifest_bucket_owner
            .as_ref()
            .map(|owner| owner.as_str().to_owned()),
        key: marker_key(identifier),
    };
    match input {
        Input::Wake { execution, polls } => {
            wake(deps, lifecycle, &marker, identifier, &execution, polls + 1).await
        }
        Input::Sleep {
            execution,
            running,
            continued,
            trigger,
        } => {
            let name = execution.rsplit(':').next().unwrap_or(&execution);
            if !warehouse.pause_when_idle {
                return Ok(done("unchanged", "the stack does not pause the cluster"));
            }
            if continued.is_some_and(|started| !started.is_null()) {
                return Ok(done(
                    "running",
                    "the run that takes on what this one left is the last out",
                ));
            }
            let continues = trigger
                .as_ref()
                .and_then(|trigger| trigger.pointer("/continue/after"))
                .and_then(serde_json::Value::as_str);
            let running: Vec<String> = running
                .into_iter()
                .filter(|other| Some(other.as_str()) != continues)
                .collect();
            match turn(name, &running) {
                Turn::Linger => Ok(Output {
                    ready: false,
                    status: "running".into(),
                    polls: 0,
                    note: "a run that started later is running: this one pauses after it".into(),
                }),
                Turn::Leave => Ok(done(
                    "running",
                    "a run that started earlier is running: the last out pauses",
                )),
                Turn::Last => sleep(lifecycle, &marker, identifier).await,
            }
        }
    }
}

fn done(status: &str, note: &str) -> Output {
    Output {
        ready: true,
        status: status.into(),
        polls: 0,
        note: note.into(),
    }
}

async fn wake(
    deps: &Deps,
    lifecycle: &Lifecycle,
    marker: &Marker<'_>,
    identifier: &str,
    execution: &str,
    polls: u32,
) -> Result<Output, EtlError> {
    let cluster = lifecycle.clusters.describe(identifier).await?;
    cluster.check_copy_role(deps.config.source.copy_role_arn.as_str())?;
    if cluster.database != deps.config.warehouse.database {
        // Not an error: a cluster may hold databases besides the one it was created with. The
        // Data API's first statement says whether REDSHIFT_DATABASE exists.
        tracing::info!(cluster = identifier, created_with = %cluster.database,
            database = %deps.config.warehouse.database, "loading into another database than the cluster's first");
    }
    let waiting = |cluster: &ClusterState, note: String| {
        if polls >= MAX_WAKE_POLLS {
            return Err(EtlError::WarehouseUnavailable(format!(
                "cluster {identifier} is still {} after {polls} looks",
                cluster.status
            )));
        }
        Ok(Output {
            ready: false,
            status: cluster.status.clone(),
            polls,
            note,
        })
    };
    let ready = |status: String| Output {
        ready: true,
        status,
        polls,
        note: format!("cluster {identifier} is available"),
    };
    let pauses = deps.config.warehouse.pause_when_idle;
    match cluster.phase() {
        Phase::Available => Ok(ready(cluster.status)),
        Phase::Paused if pauses => {
            // The marker before ResumeCluster (the module's rules): idempotent, and never
            // removed on this path.
            marker.put(execution).await?;
            match lifecycle.clusters.resume(identifier).await {
                Ok(resumed) => {
                    marker.put(execution).await?;
                    tracing::info!(
                        cluster = identifier,
                        execution,
                        "resumed the paused cluster"
                    );
                    waiting(&resumed, format!("resumed cluster {identifier}"))
                }
                Err(err) => {
                    // InvalidClusterState ("not in the available state"), or a failure whose
                    // request may have taken effect: what is the cluster now?
                    let Ok(now) = lifecycle.clusters.describe(identifier).await else {
                        return Err(err);
                    };
                    match now.phase() {
                        Phase::Resuming | Phase::Available => {
                            marker.put(execution).await?;
                            tracing::info!(cluster = identifier, execution, status = %now.status,
                                error = %err, "ResumeCluster refused: the cluster is being woken");
                            if now.phase() == Phase::Available {
                                return Ok(ready(now.status));
                            }
                            waiting(
                                &now,
                                format!(
                                    "cluster {identifier} is resuming: a ResumeCluster came \
                                     before this run's"
                                ),
                            )
                        }
                        _ => Err(err),
                    }
                }
            }
        }
        Phase::Resuming => waiting(&cluster, format!("cluster {identifier} is resuming")),
        Phase::Pausing if pauses => waiting(
            &cluster,
            format!("cluster {identifier} is pausing: it is resumed once paused"),
        ),
        Phase::Paused | Phase::Pausing => Err(EtlError::WarehousePaused(format!(
            "cluster {identifier} is {}, and this stack does not resume it \
             (PauseClusterWhenIdle=false): resume it (./dev warehouse resume) and run again",
            cluster.status
        ))),
        Phase::Other(status) => Err(EtlError::WarehouseUnavailable(format!(
            "cluster {identifier} is {status}"
        ))),
    }
}

async fn sleep(
    lifecycle: &Lifecycle,
    marker: &Marker<'_>,
    identifier: &str,
) -> Result<Output, EtlError> {
    if !marker.exists().await? {
        return Ok(done(
            "available",
            "the cluster was running when the runs began: left running",
        ));
    }
    let cluster = lifecycle.clusters.describe(identifier).await?;
    if sparkify::warehouse::AVAILABLE_WITHOUT_OPERATIONS.contains(&cluster.status.as_str()) {
        // Queries run, cluster operations (PauseCluster among them) wait for the resize.
        return Ok(Output {
            ready: false,
            status: cluster.status,
            polls: 0,
            note: format!("cluster {identifier} is being resized: paused once available"),
        });
    }
    match cluster.phase() {
        Phase::Available => {
            let paused = lifecycle.clusters.pause(identifier).await?;
            marker.delete().await?;
            tracing::info!(cluster = identifier, "paused the cluster: last run out");
            Ok(done(
                &paused.status,
                &format!("paused cluster {identifier}: the last run out"),
            ))
        }
        Phase::Paused | Phase::Pausing => {
            marker.delete().await?;
            Ok(done(&cluster.status, "already paused"))
        }
        // Resumed a moment ago (the run failed early): pause it once it is available.
        Phase::Resuming => Ok(Output {
            ready: false,
            status: cluster.status,
            polls: 0,
            note: format!("cluster {identifier} is resuming: paused once available"),
        }),
        Phase::Other(status) => Err(EtlError::WarehouseUnavailable(format!(
            "cluster {identifier} is {status}: cannot pause it now"
        ))),
    }
}

/// The marker object: "a run of this stack resumed the cluster".
struct Marker<'a> {
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    /// The manifest bucket's owner, if known, named on every call (`ExpectedBucketOwner`).
    owner: Option<String>,
    key: String,
}

impl Marker<'_> {
    async fn put(&self, execution: &str) -> Result<(), EtlError> {
        let body = serde_json::json!({ "resumed_by": execution }).to_string();
        self.s3
            .put_object()
            .bucket(self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .key(&self.key)
            .content_type("application/json")
            .body(body.into_bytes().into())
            .send()
            .await
            .map_err(|err| EtlError::from_s3("PutObject", err))?;
        Ok(())
    }

    async fn exists(&self) -> Result<bool, EtlError> {
        match self
            .s3
            .head_object()
            .bucket(self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .key(&self.key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(err) => Err(EtlError::from_s3("HeadObject", err)),
        }
    }

    async fn delete(&self) -> Result<(), EtlError> {
        self.s3
            .delete_object()
            .bucket(self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .key(&self.key)
            .send()
            .await
            .map_err(|err| EtlError::from_s3("DeleteObject", err))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn alone_pauses_with_later_runs_lingers_with_only_earlier_runs_leaves() {
        assert_eq!(turn("a", &names(&["a"])), Turn::Last);
        // Newest first: b started after a.
        assert_eq!(turn("a", &names(&["b", "a"])), Turn::Linger);
        assert_eq!(turn("b", &names(&["b", "a"])), Turn::Leave);
        // Not listed yet: look again.
        assert_eq!(turn("a", &names(&["b"])), Turn::Linger);
        assert_eq!(turn("a", &[]), Turn::Linger);
    }

    #[test]
    fn of_two_runs_ending_together_exactly_one_stays_and_it_pauses_once_alone() {
        for running in [names(&["b", "a"]), names(&["c", "b", "a"])] {
            let staying: Vec<_> = running
                .iter()
                .filter(|name| turn(name, &running) == Turn::Linger)
                .collect();
            let leaving = running
                .iter()
                .filter(|name| turn(name, &running) == Turn::Leave)
                .count();
            assert_eq!(leaving, 1, "{running:?}");
            assert_eq!(staying.len(), running.len() - 1, "{running:?}");
        }
        // The earliest stays to the end and is last once the later ones are gone.
        assert_eq!(turn("a", &names(&["a"])), Turn::Last);
    }

    use aws_sdk_redshift::error::ErrorMetadata;
    use aws_sdk_redshift::operation::describe_clusters::{
        DescribeClustersError, DescribeClustersOutput,
    };
    use aws_sdk_redshift::operation::pause_cluster::PauseClusterOutput;
    use aws_sdk_redshift::operation::resume_cluster::ResumeClusterOutput;
    use aws_sdk_redshift::types::error::{ClusterNotFoundFault, InvalidClusterStateFault};
    use aws_sdk_redshift::types::{Cluster, ClusterIamRole};
    use aws_sdk_s3::operation::delete_object::DeleteObjectOutput;
    use aws_sdk_s3::operation::head_object::{HeadObjectError, HeadObjectOutput};
    use aws_sdk_s3::operation::put_object::PutObjectOutput;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    const COPY_ROLE: &str = "arn:aws:iam::123456789012:role/sparkify-copy";

    fn deps(pause_when_idle: bool) -> Deps {
        let client = mock_client!(aws_sdk_redshiftdata, []);
        let mut deps = sparkify::testing::deps(client);
        deps.config.warehouse.pause_when_idle = pause_when_idle;
        deps
    }

    fn cluster(status: &str) -> Cluster {
        Cluster::builder()
            .cluster_identifier("sparkify")
            .cluster_status(status)
            .db_name("dev")
            .iam_roles(
                ClusterIamRole::builder()
                    .iam_role_arn(COPY_ROLE)
                    .apply_status("in-sync")
                    .build(),
            )
            .build()
    }

    fn described(status: &'static str) -> Rule {
        mock!(aws_sdk_redshift::Client::describe_clusters)
            .match_requests(|r| r.cluster_identifier() == Some("sparkify"))
            .then_output(move || {
                DescribeClustersOutput::builder()
                    .clusters(cluster(status))
                    .build()
            })
    }

    fn lifecycle(redshift: &[&Rule], s3: &[&Rule]) -> Lifecycle {
        let redshift = mock_client!(aws_sdk_redshift, RuleMode::MatchAny, redshift);
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3);
        Lifecycle {
            clusters: Clusters::new(redshift),
            s3,
        }
    }

    fn wake(polls: u32) -> Input {
        Input::Wake {
            execution: "arn:aws:states:us-west-2:1:execution:sparkify-etl:run-7".into(),
            polls,
        }
    }

    #[tokio::test]
    async fn a_paused_cluster_is_resumed_after_the_marker_is_written() {
        let describe = described("paused");
        let put = mock!(aws_sdk_s3::Client::put_object)
            .match_requests(|r| {
                r.bucket() == Some("sparkify-work")
                    && r.key() == Some("warehouse/sparkify/resumed-by-a-run.json")
            })
            .then_output(|| PutObjectOutput::builder().build());
        let resume = mock!(aws_sdk_redshift::Client::resume_cluster).then_output(|| {
            ResumeClusterOutput::builder()
                .cluster(cluster("resuming"))
                .build()
        });
        let lifecycle = lifecycle(&[&describe, &resume], &[&put]);
        let out = handle(&deps(true), &lifecycle, wake(0)).await.unwrap();
        assert_eq!(
            (out.ready, out.status.as_str(), out.polls),
            (false, "resuming", 1)
        );
        // Before ResumeCluster, and again once it answered (the module's rules).
        assert_eq!((put.num_calls(), resume.num_calls()), (2, 1));

        // The next look finds it available: ready, nothing else asked.
        let available = described("available");
        let lifecycle_later = self::lifecycle(&[&available], &[]);
        let out = handle(&deps(true), &lifecycle_later, wake(1))
            .await
            .unwrap();
        assert_eq!((out.ready, out.polls), (true, 2));
    }

    #[tokio::test]
    async fn a_paused_cluster_the_stack_does_not_manage_fails_the_run_by_name() {
        let describe = described("paused");
        let lifecycle = lifecycle(&[&describe], &[]);
        let err = handle(&deps(false), &lifecycle, wake(0)).await.unwrap_err();
        assert_eq!(err.name(), "WarehousePaused");
        assert!(err.to_string().contains("./dev warehouse resume"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_cluster_and_a_cluster_that_does_not_come_up_are_named() {
        let missing = mock!(aws_sdk_redshift::Client::describe_clusters).then_error(|| {
            DescribeClustersError::ClusterNotFoundFault(
                ClusterNotFoundFault::builder()
                    .message("Cluster sparkify not found.")
                    .meta(ErrorMetadata::builder().code("ClusterNotFound").build())
                    .build(),
            )
        });
        let err = handle(&deps(true), &lifecycle(&[&missing], &[]), wake(0))
            .await
            .unwrap_err();
        assert_eq!(err.name(), "WarehouseNotFound");
        let resuming = described("resuming");
        let err = handle(
            &deps(true),
            &lifecycle(&[&resuming], &[]),
            wake(MAX_WAKE_POLLS - 1),
        )
        .await
        .unwrap_err();
        assert_eq!(err.name(), "WarehouseUnavailable");
        let modifying = described("modifying");
        let err = handle(&deps(true), &lifecycle(&[&modifying], &[]), wake(0))
            .await
            .unwrap_err();
        assert_eq!(err.name(), "WarehouseUnavailable");
    }

    fn sleep_alone() -> Input {
        Input::Sleep {
            execution: "arn:aws:states:us-west-2:1:execution:sparkify-etl:run-7".into(),
            running: vec!["run-7".into()],
            continued: None,
            trigger: None,
        }
    }

    /// An available cluster a run resumed (its marker is there), which pauses when asked: the
    /// lifecycle, the PauseCluster rule and the marker's DeleteObject rule.
    fn a_cluster_to_pause() -> (Lifecycle, aws_smithy_mocks::Rule, aws_smithy_mocks::Rule) {
        let head = mock!(aws_sdk_s3::Client::head_object)
            .then_output(|| HeadObjectOutput::builder().build());
        let describe = described("available");
        let pause = mock!(aws_sdk_redshift::Client::pause_cluster).then_output(|| {
            PauseClusterOutput::builder()
                .cluster(cluster("pausing"))
                .build()
        });
        let delete = mock!(aws_sdk_s3::Client::delete_object)
            .then_output(|| DeleteObjectOutput::builder().build());
        let lifecycle = lifecycle(&[&describe, &pause], &[&head, &delete]);
        (lifecycle, pause, delete)
    }

    #[tokio::test]
    async fn the_last_run_out_pauses_a_cluster_a_run_resumed_and_removes_the_marker() {
        let (lifecycle, pause, delete) = a_cluster_to_pause();
        let out = handle(&deps(true), &lifecycle, sleep_alone())
            .await
            .unwrap();
        assert_eq!((out.ready, out.status.as_str()), (true, "pausing"));
        assert_eq!((pause.num_calls(), delete.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_cluster_no_run_resumed_is_left_running_and_a_later_run_is_waited_for() {
        let head = mock!(aws_sdk_s3::Client::head_object).then_error(|| {
            HeadObjectError::NotFound(aws_sdk_s3::types::error::NotFound::builder().build())
        });
        let lifecycle = lifecycle(&[], &[&head]);
        let out = handle(&deps(true), &lifecycle, sleep_alone())
            .await
            .unwrap();
        assert!(out.ready && out.note.contains("left running"), "{out:?}");
        // A later run is running: nothing is called, look again.
        let later = Input::Sleep {
            execution: "arn:aws:states:us-west-2:1:execution:sparkify-etl:run-7".into(),
            running: vec!["run-8".into(), "run-7".into()],
            continued: None,
            trigger: None,
        };
        let out = handle(&deps(true), &self::lifecycle(&[], &[]), later)
            .await
            .unwrap();
        assert!(!out.ready, "{out:?}");
        // Unless the later run is this run's continuation: it is the last out, and this run
        // leaves at once (a chain of continuations is not a chain of runs waiting on each other).
        let continued = Input::Sleep {
            execution: "arn:aws:states:us-west-2:1:execution:sparkify-etl:run-7".into(),
            running: vec!["continued-8".into(), "run-7".into()],
            continued: Some(serde_json::json!({"execution": "arn:x:continued-8"})),
            trigger: None,
        };
        let out = handle(&deps(true), &self::lifecycle(&[], &[]), continued)
            .await
            .unwrap();
        assert!(out.ready && out.note.contains("last out"), "{out:?}");
        // Without PauseClusterWhenIdle nothing is looked at.
        let out = handle(&deps(false), &self::lifecycle(&[], &[]), sleep_alone())
            .await
            .unwrap();
        assert!(out.ready && out.status == "unchanged", "{out:?}");
    }

    /// A continuation does not wait for the run it continues, still ending: alone besides it,
    /// it is the last out and pauses.
    #[tokio::test]
    async fn a_continuation_is_the_last_out_though_the_run_it_continues_is_ending() {
        let (lifecycle, pause, _) = a_cluster_to_pause();
        let input = Input::Sleep {
            execution: "arn:aws:states:us-west-2:1:execution:sparkify-etl:continued-8".into(),
            running: vec!["continued-8".into(), "run-7".into()],
            continued: None,
            trigger: Some(serde_json::json!({"continue": {"after": "run-7"}})),
        };
        let out = handle(&deps(true), &lifecycle, input).await.unwrap();
        assert_eq!((out.ready, out.status.as_str()), (true, "pausing"));
        assert_eq!(pause.num_calls(), 1);
    }

    /// A cluster and the marker bucket that keep their state across calls, as AWS does: several
    /// runs' calls meet on them. DescribeClusters answers the status (or, `stale` times, the
    /// status a run read just before another run's ResumeCluster); ResumeCluster moves only a
    /// paused cluster and PauseCluster only an available one, else `InvalidClusterState`.
    #[derive(Debug)]
    struct World {
        status: &'static str,
        marker: bool,
        pauses: u32,
        resumes: u32,
        /// DescribeClusters answers `paused` this many times more, whatever the status.
        stale: u32,
        /// The next ResumeCluster takes effect but its answer is lost: the SDK's retry of it
        /// gets `InvalidClusterState`, which is what the call returns.
        lose_resume_answer: bool,
    }

    type Shared = std::sync::Arc<std::sync::Mutex<World>>;

    fn world(status: &'static str) -> Shared {
        std::sync::Arc::new(std::sync::Mutex::new(World {
            status,
            marker: false,
            pauses: 0,
            resumes: 0,
            stale: 0,
            lose_resume_answer: false,
        }))
    }

    fn invalid_state() -> InvalidClusterStateFault {
        InvalidClusterStateFault::builder()
            .message("The specified cluster is not in the available state.")
            .meta(ErrorMetadata::builder().code("InvalidClusterState").build())
            .build()
    }

    /// A run's clients on the shared world.
    fn lifecycle_on(world: &Shared) -> Lifecycle {
        use aws_sdk_redshift::operation::pause_cluster::PauseClusterError;
        use aws_sdk_redshift::operation::resume_cluster::ResumeClusterError;
        use aws_smithy_mocks::MockResponse;
        let w = world.clone();
        let describe =
            mock!(aws_sdk_redshift::Client::describe_clusters).then_compute_response(move |_| {
                let mut w = w.lock().unwrap();
                let status = if w.stale > 0 {
                    w.stale -= 1;
                    "paused"
                } else {
                    w.status
                };
                MockResponse::Output(
                    DescribeClustersOutput::builder()
                        .clusters(cluster(status))
                        .build(),
                )
            });
        let w = world.clone();
        let resume =
            mock!(aws_sdk_redshift::Client::resume_cluster).then_compute_response(move |_| {
                let mut w = w.lock().unwrap();
                if w.status != "paused" {
                    return MockResponse::Error(ResumeClusterError::InvalidClusterStateFault(
                        invalid_state(),
                    ));
                }
                assert!(w.marker, "the marker is written before ResumeCluster");
                w.status = "resuming";
                w.resumes += 1;
                if std::mem::take(&mut w.lose_resume_answer) {
                    return MockResponse::Error(ResumeClusterError::InvalidClusterStateFault(
                        invalid_state(),
                    ));
                }
                MockResponse::Output(
                    ResumeClusterOutput::builder()
                        .cluster(cluster("resuming"))
                        .build(),
                )
            });
        let w = world.clone();
        let pause =
            mock!(aws_sdk_redshift::Client::pause_cluster).then_compute_response(move |_| {
                let mut w = w.lock().unwrap();
                if w.status != "available" {
                    return MockResponse::Error(PauseClusterError::InvalidClusterStateFault(
                        invalid_state(),
                    ));
                }
                w.status = "pausing";
                w.pauses += 1;
                MockResponse::Output(
                    PauseClusterOutput::builder()
                        .cluster(cluster("pausing"))
                        .build(),
                )
            });
        let w = world.clone();
        let put = mock!(aws_sdk_s3::Client::put_object).then_compute_response(move |_| {
            w.lock().unwrap().marker = true;
            MockResponse::Output(PutObjectOutput::builder().build())
        });
        let w = world.clone();
        let head = mock!(aws_sdk_s3::Client::head_object).then_compute_response(move |_| {
            if w.lock().unwrap().marker {
                MockResponse::Output(HeadObjectOutput::builder().build())
            } else {
                MockResponse::Error(HeadObjectError::NotFound(
                    aws_sdk_s3::types::error::NotFound::builder().build(),
                ))
            }
        });
        let w = world.clone();
        let delete = mock!(aws_sdk_s3::Client::delete_object).then_compute_response(move |_| {
            w.lock().unwrap().marker = false;
            MockResponse::Output(DeleteObjectOutput::builder().build())
        });
        lifecycle(&[&describe, &resume, &pause], &[&put, &head, &delete])
    }

    fn wake_as(run: &str, polls: u32) -> Input {
        Input::Wake {
            execution: format!("arn:aws:states:us-west-2:1:execution:sparkify-etl:{run}"),
            polls,
        }
    }

    fn sleep_as(run: &str, running: &[&str]) -> Input {
        Input::Sleep {
            execution: format!("arn:aws:states:us-west-2:1:execution:sparkify-etl:{run}"),
            running: names(running),
            continued: None,
            trigger: None,
        }
    }

    /// Two runs wake a paused cluster at once: both read `paused`, run-a's ResumeCluster moves
    /// it, run-b's answers InvalidClusterState. run-b waits for the cluster like run-a (someone
    /// is waking it) and leaves run-a's marker alone; the last run out pauses the cluster.
    #[tokio::test]
    async fn two_runs_waking_a_paused_cluster_at_once_leave_it_paused_after_the_last() {
        let world = world("paused");
        let (a, b) = (lifecycle_on(&world), lifecycle_on(&world));
        let deps = deps(true);
        let woke_a = handle(&deps, &a, wake_as("run-a", 0)).await.unwrap();
        assert_eq!((woke_a.ready, woke_a.status.as_str()), (false, "resuming"));
        // run-b read the status before run-a's ResumeCluster.
        world.lock().unwrap().stale = 1;
        let woke_b = handle(&deps, &b, wake_as("run-b", 0)).await;
        world.lock().unwrap().status = "available";
        // A failed wake ends the run through Release as well.
        if woke_b.is_ok() {
            let ready = handle(&deps, &b, wake_as("run-b", 1)).await.unwrap();
            assert!(ready.ready, "{ready:?}");
        }
        assert!(handle(&deps, &a, wake_as("run-a", 1)).await.unwrap().ready);
        // Both end together: run-b (the later) leaves, run-a stays until alone, then pauses.
        let left = handle(&deps, &b, sleep_as("run-b", &["run-b", "run-a"]))
            .await
            .unwrap();
        assert!(left.ready, "{left:?}");
        let stays = handle(&deps, &a, sleep_as("run-a", &["run-b", "run-a"]))
            .await
            .unwrap();
        assert!(!stays.ready, "{stays:?}");
        let last = handle(&deps, &a, sleep_as("run-a", &["run-a"]))
            .await
            .unwrap();
        let w = world.lock().unwrap();
        assert_eq!(
            (w.pauses, w.resumes, w.status, w.marker),
            (1, 1, "pausing", false),
            "the cluster a run woke is paused after the last run out: {last:?}"
        );
        let woke_b = woke_b.expect("run-b waits for the cluster run-a is waking");
        assert_eq!((woke_b.ready, woke_b.status.as_str()), (false, "resuming"));
    }

    /// ResumeCluster takes effect but its answer is lost; the SDK's retry (or the Task's)
    /// answers InvalidClusterState. The run waits for the cluster it woke and pauses it at the
    /// end.
    #[tokio::test]
    async fn a_resume_whose_answer_was_lost_is_still_paused_after_the_run() {
        let world = world("paused");
        world.lock().unwrap().lose_resume_answer = true;
        let lifecycle = lifecycle_on(&world);
        let deps = deps(true);
        let first = handle(&deps, &lifecycle, wake_as("run-a", 0)).await;
        // A WarehouseUnavailable is retried by the Task with the same input.
        let woke = match first {
            Ok(out) => out,
            Err(_) => handle(&deps, &lifecycle, wake_as("run-a", 0))
                .await
                .unwrap(),
        };
        assert_eq!((woke.ready, woke.status.as_str()), (false, "resuming"));
        world.lock().unwrap().status = "available";
        assert!(
            handle(&deps, &lifecycle, wake_as("run-a", 1))
                .await
                .unwrap()
                .ready
        );
        let last = handle(&deps, &lifecycle, sleep_as("run-a", &["run-a"]))
            .await
            .unwrap();
        let w = world.lock().unwrap();
        assert_eq!(
            (w.pauses, w.resumes, w.status, w.marker),
            (1, 1, "pausing", false),
            "the cluster the run woke is paused after it: {last:?}"
        );
    }

    /// A cluster that was available when the runs began is never paused by them, however many
    /// overlap.
    #[tokio::test]
    async fn a_cluster_available_before_the_runs_is_left_running() {
        let world = world("available");
        let (a, b) = (lifecycle_on(&world), lifecycle_on(&world));
        let deps = deps(true);
        assert!(handle(&deps, &a, wake_as("run-a", 0)).await.unwrap().ready);
        assert!(handle(&deps, &b, wake_as("run-b", 0)).await.unwrap().ready);
        handle(&deps, &b, sleep_as("run-b", &["run-b", "run-a"]))
            .await
            .unwrap();
        let last = handle(&deps, &a, sleep_as("run-a", &["run-a"]))
            .await
            .unwrap();
        assert!(last.ready && last.note.contains("left running"), "{last:?}");
        let w = world.lock().unwrap();
        assert_eq!((w.pauses, w.resumes, w.status), (0, 0, "available"));
    }

    /// "available, prep-for-resize" and "available, resize-cleanup": "The cluster is running and
    /// available for read and write queries, but cluster operations, such as creating a
    /// snapshot, are not available" (Management Guide, cluster status): the run proceeds; the
    /// last run out waits for `available` to pause.
    #[tokio::test]
    async fn an_available_cluster_being_resized_takes_the_run_and_is_paused_once_available() {
        for status in ["available, prep-for-resize", "available, resize-cleanup"] {
            let world = world(status);
            let lifecycle = lifecycle_on(&world);
            let deps = deps(true);
            let woke = handle(&deps, &lifecycle, wake_as("run-a", 0))
                .await
                .unwrap();
            assert_eq!((woke.ready, woke.status.as_str()), (true, status));
            // A run had woken it before the resize began: the marker is there.
            world.lock().unwrap().marker = true;
            let waits = handle(&deps, &lifecycle, sleep_as("run-a", &["run-a"]))
                .await
                .unwrap();
            assert!(!waits.ready, "{status}: {waits:?}");
            assert_eq!(world.lock().unwrap().pauses, 0);
            world.lock().unwrap().status = "available";
            let paused = handle(&deps, &lifecycle, sleep_as("run-a", &["run-a"]))
                .await
                .unwrap();
            assert_eq!((paused.ready, paused.status.as_str()), (true, "pausing"));
        }
    }

    #[test]
    fn the_input_names_its_action() {
        let wake: Input = serde_json::from_value(serde_json::json!({
            "action": "wake", "execution": "arn:x", "polls": 2
        }))
        .unwrap();
        assert_eq!(
            wake,
            Input::Wake {
                execution: "arn:x".into(),
                polls: 2
            }
        );
        let unknown = serde_json::from_value::<Input>(serde_json::json!({"action": "reboot"}));
        assert!(unknown.is_err());
    }
}
