//! warehouse: the cluster's lifecycle around a run, through the cluster's own API.
//!
//! `wake`, before create-tables: the cluster exists and the COPY role is attached to it
//! (`WarehouseNotFound`, `CopyRoleNotAttached`); an available cluster is ready; a paused one is
//! resumed when the stack pauses it when idle (`PAUSE_CLUSTER_WHEN_IDLE`), else the run fails as
//! `WarehousePaused`; a resuming or pausing one is waited for. Each call answers at once: the
//! state machine waits between calls in a Wait state, so no Lambda sits waiting.
//!
//! `sleep`, when a run ends, succeeded or failed: the last run out pauses the cluster, and only
//! if a run of this stack resumed it. "Resumed by a run" is a marker object in the manifest
//! bucket, written before ResumeCluster and removed after PauseCluster, so it outlives the run
//! that wrote it: a run that began on a cluster another run had resumed pauses it if it is the
//! last out. A cluster that was available when the runs began (someone is using it) has no
//! marker and is left running. "The last out" comes from the state machine's running
//! executions, newest first ([`turn`]).
//!
//! A workgroup needs none of this (it starts and stops by itself): both actions answer at once.

use serde::{Deserialize, Serialize};
use sparkify::config::Target;
use sparkify::warehouse::{ClusterState, Clusters, Phase};
use sparkify::{Deps, EtlError};

/// How many `wake` calls a run makes before it gives up on a cluster that does not become
/// available: with the deployed 30-second Wait, half an hour (AWS: a resume takes minutes).
pub const MAX_WAKE_POLLS: u32 = 60;

/// The marker's key in the manifest bucket, for one cluster.
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
    let pauses = deps.config.warehouse.pause_when_idle;
    match cluster.phase() {
        Phase::Available => Ok(Output {
            ready: true,
            status: cluster.status,
            polls,
            note: format!("cluster {identifier} is available"),
        }),
        Phase::Paused if pauses => {
            marker.put(execution).await?;
            let resumed = match lifecycle.clusters.resume(identifier).await {
                Ok(resumed) => resumed,
                Err(err) => {
                    // Its status moved under the call (someone else resumed it): not ours.
                    marker.delete().await?;
                    return Err(err);
                }
            };
            tracing::info!(
                cluster = identifier,
                execution,
                "resumed the paused cluster"
            );
            waiting(&resumed, format!("resumed cluster {identifier}"))
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
    key: String,
}

impl Marker<'_> {
    async fn put(&self, execution: &str) -> Result<(), EtlError> {
        let body = serde_json::json!({ "resumed_by": execution }).to_string();
        self.s3
            .put_object()
            .bucket(self.bucket)
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
    use aws_sdk_redshift::types::{Cluster, ClusterIamRole, error::ClusterNotFoundFault};
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
        assert_eq!((put.num_calls(), resume.num_calls()), (1, 1));

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
