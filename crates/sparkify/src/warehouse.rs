//! The warehouse's lifecycle through the cluster's own API (`aws-sdk-redshift`): what a cluster
//! is and whether a run can load into it, and pausing and resuming it. The `warehouse` function
//! and `./dev warehouse` share it.
//!
//! A Serverless workgroup has no counterpart here: its API is `aws-sdk-redshiftserverless`, which
//! the design's packages do not include, and a workgroup needs none of it to run a load (it
//! starts on the first statement and stops by itself). Its check is the Data API's own answer to
//! create-tables' first statement ([`crate::EtlError::from_sdk`]).

use crate::error::EtlError;
use aws_sdk_redshift::error::{ProvideErrorMetadata, SdkError};

/// What DescribeClusters says of one cluster, as much as a run and a person need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterState {
    pub identifier: String,
    /// `ClusterStatus`: available, pausing, paused, resuming, modifying, ...
    pub status: String,
    pub node_type: String,
    pub nodes: i32,
    /// The database created with the cluster (`DBName`).
    pub database: String,
    /// `address:port`, once the cluster has one.
    pub endpoint: Option<String>,
    /// Each attached IAM role's ARN and `ApplyStatus` (in-sync, adding, removing).
    pub iam_roles: Vec<(String, String)>,
}

/// Where a cluster is in its lifecycle, for a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Available,
    Paused,
    Pausing,
    Resuming,
    /// Any other status (modifying, rebooting, resizing, ...): it passes, or needs a person.
    Other(String),
}

/// The statuses in which "the cluster is running and available for read and write queries, but
/// cluster operations, such as creating a snapshot, are not available" (Amazon Redshift
/// Management Guide, cluster status:
/// <https://docs.aws.amazon.com/redshift/latest/mgmt/working-with-clusters.html#rs-mgmt-cluster-status>).
/// A run proceeds in them; PauseCluster waits for `available`.
pub const AVAILABLE_WITHOUT_OPERATIONS: [&str; 2] =
    ["available, prep-for-resize", "available, resize-cleanup"];

impl ClusterState {
    /// The cluster's phase for a run: the statuses of [`AVAILABLE_WITHOUT_OPERATIONS`] are
    /// available (queries run in them).
    pub fn phase(&self) -> Phase {
        match self.status.as_str() {
            "available" => Phase::Available,
            status if AVAILABLE_WITHOUT_OPERATIONS.contains(&status) => Phase::Available,
            "paused" => Phase::Paused,
            "pausing" => Phase::Pausing,
            "resuming" => Phase::Resuming,
            other => Phase::Other(other.to_owned()),
        }
    }

    /// Whether COPY may use `role_arn`: attached and `in-sync` ("The role is available for use
    /// by the cluster", ClusterIamRole). A role still being added is a passing state.
    pub fn check_copy_role(&self, role_arn: &str) -> Result<(), EtlError> {
        match self.iam_roles.iter().find(|(arn, _)| arn == role_arn) {
            Some((_, status)) if status == "in-sync" => Ok(()),
            Some((_, status)) if status == "adding" => Err(EtlError::WarehouseUnavailable(
                format!("{role_arn} is still being attached to {}", self.identifier),
            )),
            _ => Err(EtlError::CopyRoleNotAttached(format!(
                "{role_arn} is not among cluster {}'s IAM roles ({}): attach it (aws redshift \
                 modify-cluster-iam-roles --cluster-identifier {} --add-iam-roles {role_arn}) or \
                 deploy with CopyRoleArn set to one that is",
                self.identifier,
                if self.iam_roles.is_empty() {
                    "none".to_owned()
                } else {
                    self.iam_roles
                        .iter()
                        .map(|(arn, status)| format!("{arn} {status}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                self.identifier
            ))),
        }
    }
}

/// The cluster API, for one client.
#[derive(Debug, Clone)]
pub struct Clusters {
    client: aws_sdk_redshift::Client,
}

impl Clusters {
    pub fn new(client: aws_sdk_redshift::Client) -> Self {
        Self { client }
    }

    /// DescribeClusters for one cluster.
    pub async fn describe(&self, identifier: &str) -> Result<ClusterState, EtlError> {
        let answer = self
            .client
            .describe_clusters()
            .cluster_identifier(identifier)
            .send()
            .await
            .map_err(|err| from_redshift("DescribeClusters", err))?;
        let cluster = answer.clusters().first().ok_or_else(|| {
            EtlError::WarehouseNotFound(format!("DescribeClusters lists no cluster {identifier}"))
        })?;
        Ok(state_of(cluster))
    }

    /// PauseCluster: the cluster moves to `pausing`, then `paused`.
    pub async fn pause(&self, identifier: &str) -> Result<ClusterState, EtlError> {
        let answer = self
            .client
            .pause_cluster()
            .cluster_identifier(identifier)
            .send()
            .await
            .map_err(|err| from_redshift("PauseCluster", err))?;
        answer
            .cluster()
            .map(state_of)
            .ok_or_else(|| EtlError::WarehouseUnavailable("PauseCluster: no cluster".into()))
    }

    /// ResumeCluster: the cluster moves to `resuming`, then `available`.
    pub async fn resume(&self, identifier: &str) -> Result<ClusterState, EtlError> {
        let answer = self
            .client
            .resume_cluster()
            .cluster_identifier(identifier)
            .send()
            .await
            .map_err(|err| from_redshift("ResumeCluster", err))?;
        answer
            .cluster()
            .map(state_of)
            .ok_or_else(|| EtlError::WarehouseUnavailable("ResumeCluster: no cluster".into()))
    }
}

fn state_of(cluster: &aws_sdk_redshift::types::Cluster) -> ClusterState {
    ClusterState {
        identifier: cluster.cluster_identifier().unwrap_or_default().to_owned(),
        status: cluster.cluster_status().unwrap_or_default().to_owned(),
        node_type: cluster.node_type().unwrap_or_default().to_owned(),
        nodes: cluster.number_of_nodes().unwrap_or_default(),
        database: cluster.db_name().unwrap_or_default().to_owned(),
        endpoint: cluster.endpoint().map(|endpoint| {
            format!(
                "{}:{}",
                endpoint.address().unwrap_or_default(),
                endpoint.port().unwrap_or_default()
            )
        }),
        iam_roles: cluster
            .iam_roles()
            .iter()
            .map(|role| {
                (
                    role.iam_role_arn().unwrap_or_default().to_owned(),
                    role.apply_status().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
    }
}

/// Names a cluster API error: no such cluster is `WarehouseNotFound`; a role the function may
/// not use is a deployment's `ConfigError`; anything else (a status that changed under the call,
/// throttling, a server or transport failure) passes, so `WarehouseUnavailable`.
pub fn from_redshift<E, R>(operation: &str, err: SdkError<E, R>) -> EtlError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    if let SdkError::ServiceError(service) = &err {
        let inner = service.err();
        let code = inner.code().unwrap_or("Unknown");
        let text = format!(
            "{operation}: {code}: {}",
            inner.message().unwrap_or("no message")
        );
        return match code {
            "ClusterNotFound" => EtlError::WarehouseNotFound(text),
            "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
                EtlError::Config(text)
            }
            _ => EtlError::WarehouseUnavailable(text),
        };
    }
    EtlError::WarehouseUnavailable(format!("{operation}: {}", crate::error::error_chain(&err)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(status: &str, roles: &[(&str, &str)]) -> ClusterState {
        ClusterState {
            identifier: "sparkify".into(),
            status: status.into(),
            node_type: "ra3.large".into(),
            nodes: 2,
            database: "dev".into(),
            endpoint: None,
            iam_roles: roles
                .iter()
                .map(|(a, s)| ((*a).to_owned(), (*s).to_owned()))
                .collect(),
        }
    }

    const COPY: &str = "arn:aws:iam::123456789012:role/sparkify-copy";

    #[test]
    fn the_copy_role_counts_only_attached_and_in_sync() {
        assert_eq!(
            cluster("available", &[("other", "in-sync"), (COPY, "in-sync")]).check_copy_role(COPY),
            Ok(())
        );
        let adding = cluster("available", &[(COPY, "adding")]).check_copy_role(COPY);
        assert_eq!(adding.unwrap_err().name(), "WarehouseUnavailable");
        for roles in [&[][..], &[(COPY, "removing")], &[("other", "in-sync")]] {
            let err = cluster("available", roles)
                .check_copy_role(COPY)
                .unwrap_err();
            assert_eq!(err.name(), "CopyRoleNotAttached");
            assert!(
                err.to_string().contains("modify-cluster-iam-roles"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_phase_follows_the_documented_statuses() {
        assert_eq!(cluster("available", &[]).phase(), Phase::Available);
        assert_eq!(cluster("paused", &[]).phase(), Phase::Paused);
        assert_eq!(cluster("pausing", &[]).phase(), Phase::Pausing);
        assert_eq!(cluster("resuming", &[]).phase(), Phase::Resuming);
        assert_eq!(
            cluster("modifying", &[]).phase(),
            Phase::Other("modifying".into())
        );
    }
}
