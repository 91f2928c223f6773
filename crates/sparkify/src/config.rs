//! The functions' configuration, read once at init from the environment the template sets.
//! Every value that later reaches SQL is vetted here, so a bad deployment fails at init with
//! `ConfigError` instead of in the middle of a load.

use crate::error::EtlError;
use crate::sql::{AccountId, BucketName, DbRole, IamRoleArn, Region, S3Key};
use std::time::Duration;

/// Where the SQL runs: a provisioned cluster or a Redshift Serverless workgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Cluster {
        identifier: String,
        credentials: ClusterCredentials,
    },
    Serverless {
        /// Workgroup name or ARN (the Data API takes either; the template passes the ARN so IAM
        /// can be scoped to it).
        workgroup: String,
        secret_arn: Option<String>,
    },
}

/// How the Data API signs in to a provisioned cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterCredentials {
    /// Temporary credentials for this database user (`redshift:GetClusterCredentials`).
    DbUser(String),
    /// A Secrets Manager secret holding user name and password, by ARN.
    Secret(String),
}

/// The warehouse and database every statement runs in, and how long a call follows a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warehouse {
    pub target: Target,
    pub database: String,
    /// How long one invocation follows its statements before leaving the rest to the state
    /// machine's Wait: a statement that commits within it saves a Wait and three transitions.
    pub statement_wait: Duration,
    /// A paused cluster is resumed for a run and paused again after the last run out
    /// (`PAUSE_CLUSTER_WHEN_IDLE`; clusters only).
    pub pause_when_idle: bool,
}

/// Where the raw JSON lives and how COPY reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSource {
    pub bucket: BucketName,
    pub log_prefix: S3Key,
    pub song_prefix: S3Key,
    pub jsonpaths_key: S3Key,
    /// The data bucket's owner when the stack knows it (`DATA_BUCKET_OWNER`): every S3 call on
    /// the bucket names it (`ExpectedBucketOwner`), so a bucket of that name in another account
    /// answers 403 instead of being read.
    pub bucket_owner: Option<AccountId>,
    /// Where copy-staging writes each round's manifests and object list for COPY to read.
    pub manifest_bucket: BucketName,
    /// The manifest bucket's owner, the stack's account (`MANIFEST_BUCKET_OWNER`), named on every
    /// S3 call on it.
    pub manifest_bucket_owner: Option<AccountId>,
    pub copy_role_arn: IamRoleArn,
    pub region: Region,
    /// COPY's MAXERROR: records that may be rejected (and recorded in the load-error views)
    /// before the load fails.
    pub max_load_errors: u32,
    /// How long, from its start, a run goes on taking new rounds of objects: what is left once
    /// it has passed goes to a run of its own, started as this one ends (`LOAD_BUDGET_SECONDS`).
    pub load_budget: Duration,
}

impl DataSource {
    /// The data bucket and its owner, if known: what an S3 call on it names.
    pub fn data(&self) -> (&BucketName, Option<&AccountId>) {
        (&self.bucket, self.bucket_owner.as_ref())
    }

    /// The manifest bucket and its owner, if known: what an S3 call on it names.
    pub fn manifests(&self) -> (&BucketName, Option<&AccountId>) {
        (&self.manifest_bucket, self.manifest_bucket_owner.as_ref())
    }
}

/// The database roles people read the tables through (docs/deploy.md, Readers): roles a superuser
/// created, which create-tables, the tables' owner, grants on every run. None: no grant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Readers {
    /// SELECT on the star schema (`READER_ROLE`).
    pub analysts: Option<DbRole>,
    /// SELECT on every table of the pipeline, DELETE on `load_quarantine` (`OPERATOR_ROLE`).
    pub operators: Option<DbRole>,
}

/// All of a function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub warehouse: Warehouse,
    pub source: DataSource,
    pub readers: Readers,
    /// The pipeline's name (`PIPELINE_NAME`: the stack's), the dimension of its metrics
    /// ([`crate::metrics`]); [`DEFAULT_PIPELINE_NAME`] when unset.
    pub pipeline: String,
}

/// Environment variable names, as `template.yaml` sets them.
pub mod vars {
    pub const CLUSTER_ID: &str = "REDSHIFT_CLUSTER_ID";
    pub const WORKGROUP: &str = "REDSHIFT_WORKGROUP";
    pub const DB_USER: &str = "REDSHIFT_DB_USER";
    pub const SECRET_ARN: &str = "REDSHIFT_SECRET_ARN";
    pub const DATABASE: &str = "REDSHIFT_DATABASE";
    pub const COPY_ROLE_ARN: &str = "COPY_ROLE_ARN";
    pub const DATA_BUCKET: &str = "DATA_BUCKET";
    pub const LOG_PREFIX: &str = "LOG_PREFIX";
    pub const SONG_PREFIX: &str = "SONG_PREFIX";
    pub const JSONPATHS_KEY: &str = "JSONPATHS_KEY";
    pub const DATA_REGION: &str = "DATA_REGION";
    pub const MAX_LOAD_ERRORS: &str = "MAX_LOAD_ERRORS";
    pub const MANIFEST_BUCKET: &str = "MANIFEST_BUCKET";
    pub const MANIFEST_BUCKET_OWNER: &str = "MANIFEST_BUCKET_OWNER";
    pub const DATA_BUCKET_OWNER: &str = "DATA_BUCKET_OWNER";
    pub const STATEMENT_WAIT_SECONDS: &str = "STATEMENT_WAIT_SECONDS";
    pub const PAUSE_CLUSTER_WHEN_IDLE: &str = "PAUSE_CLUSTER_WHEN_IDLE";
    pub const LOAD_BUDGET_SECONDS: &str = "LOAD_BUDGET_SECONDS";
    pub const READER_ROLE: &str = "READER_ROLE";
    pub const OPERATOR_ROLE: &str = "OPERATOR_ROLE";
    pub const PIPELINE_NAME: &str = "PIPELINE_NAME";

    /// Every variable the functions read, for the house-rule test against the template.
    pub const ALL: [&str; 21] = [
        CLUSTER_ID,
        WORKGROUP,
        DB_USER,
        SECRET_ARN,
        DATABASE,
        COPY_ROLE_ARN,
        DATA_BUCKET,
        LOG_PREFIX,
        SONG_PREFIX,
        JSONPATHS_KEY,
        DATA_REGION,
        MAX_LOAD_ERRORS,
        MANIFEST_BUCKET,
        MANIFEST_BUCKET_OWNER,
        DATA_BUCKET_OWNER,
        STATEMENT_WAIT_SECONDS,
        PAUSE_CLUSTER_WHEN_IDLE,
        LOAD_BUDGET_SECONDS,
        READER_ROLE,
        OPERATOR_ROLE,
        PIPELINE_NAME,
    ];
}

/// The metrics' dimension value when `PIPELINE_NAME` is unset (a function invoked by hand).
pub const DEFAULT_PIPELINE_NAME: &str = "sparkify-etl";

/// MAXERROR when `MAX_LOAD_ERRORS` is unset.
pub const DEFAULT_MAX_LOAD_ERRORS: u32 = 10;

/// `STATEMENT_WAIT_SECONDS` when unset, and the most it may be: a call must end well inside the
/// functions' 30-second timeout.
pub const DEFAULT_STATEMENT_WAIT_SECONDS: u64 = 5;
pub const MAX_STATEMENT_WAIT_SECONDS: u64 = 20;

/// `LOAD_BUDGET_SECONDS` when unset: 45 minutes of the state machine's 2-hour execution timeout.
/// The rest is for what a run does besides taking rounds: waking a paused cluster (at most 30
/// minutes, statemachine/README.md) and publishing what the rounds staged (load-facts to
/// verify-counts, which took less than a third of the copy's time at every size measured:
/// docs/benchmarks.md). The most it may be is 90 minutes.
pub const DEFAULT_LOAD_BUDGET_SECONDS: u64 = 45 * 60;
pub const MAX_LOAD_BUDGET_SECONDS: u64 = 90 * 60;

/// Variables read through a lookup (the process environment, or a test's map). Empty values count
/// as unset, as CloudFormation passes empty parameters through as empty strings.
struct Lookup<L>(L);

impl<L: Fn(&str) -> Option<String>> Lookup<L> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|value| !value.trim().is_empty())
    }

    fn require(&self, name: &str) -> Result<String, EtlError> {
        self.get(name)
            .ok_or_else(|| EtlError::Config(format!("{name} is not set")))
    }

    /// An optional variable, parsed when set; a value the parser refuses is a `ConfigError`.
    fn optional<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, EtlError> {
        self.get(name)
            .map(|text| parse(&text).map_err(|why| EtlError::Config(format!("{name}: {why}"))))
            .transpose()
    }

    /// A required variable, parsed; a value the parser refuses is a `ConfigError` naming it.
    fn parse<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, EtlError> {
        parse(&self.require(name)?).map_err(|why| EtlError::Config(format!("{name}: {why}")))
    }
}

/// The manifest bucket alone (`MANIFEST_BUCKET`) and its owner, for the stack's teardown function, which needs
/// nothing else; [`Config::from_lookup`] reads it the same way.
pub fn manifest_bucket_from_env() -> Result<ManifestBucket, EtlError> {
    let env = Lookup(|name: &str| std::env::var(name).ok());
    Ok(ManifestBucket {
        name: env.parse(vars::MANIFEST_BUCKET, BucketName::parse)?,
        owner: env.optional(vars::MANIFEST_BUCKET_OWNER, AccountId::parse)?,
    })
}

/// The manifest bucket and, as the stack knows it, its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestBucket {
    pub name: BucketName,
    pub owner: Option<AccountId>,
}

impl Warehouse {
    /// Reads the warehouse part of the process environment.
    pub fn from_env() -> Result<Self, EtlError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The warehouse part of the configuration alone, for a tool that only runs SQL (the
    /// analytics command); [`Config::from_lookup`] reads it the same way.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EtlError> {
        let env = Lookup(lookup);
        let get = |name: &str| env.get(name);

        let target = match (get(vars::CLUSTER_ID), get(vars::WORKGROUP)) {
            (Some(identifier), None) => {
                let credentials = match (get(vars::DB_USER), get(vars::SECRET_ARN)) {
                    (Some(user), None) => ClusterCredentials::DbUser(user),
                    (None, Some(secret)) => ClusterCredentials::Secret(secret),
                    _ => {
                        return Err(EtlError::Config(format!(
                            "a cluster needs exactly one of {} or {}",
                            vars::DB_USER,
                            vars::SECRET_ARN
                        )));
                    }
                };
                Target::Cluster {
                    identifier,
                    credentials,
                }
            }
            (None, Some(workgroup)) => {
                if get(vars::DB_USER).is_some() {
                    return Err(EtlError::Config(format!(
                        "{} applies to clusters only; a workgroup signs in with its IAM identity or {}",
                        vars::DB_USER,
                        vars::SECRET_ARN
                    )));
                }
                Target::Serverless {
                    workgroup,
                    secret_arn: get(vars::SECRET_ARN),
                }
            }
            _ => {
                return Err(EtlError::Config(format!(
                    "set exactly one of {} (provisioned) or {} (Serverless)",
                    vars::CLUSTER_ID,
                    vars::WORKGROUP
                )));
            }
        };

        let statement_wait = match get(vars::STATEMENT_WAIT_SECONDS) {
            None => DEFAULT_STATEMENT_WAIT_SECONDS,
            Some(text) => text
                .trim()
                .parse()
                .ok()
                .filter(|seconds| *seconds <= MAX_STATEMENT_WAIT_SECONDS)
                .ok_or_else(|| {
                    EtlError::Config(format!(
                        "{} must be a whole number of seconds from 0 to {MAX_STATEMENT_WAIT_SECONDS}, got {text:?}",
                        vars::STATEMENT_WAIT_SECONDS
                    ))
                })?,
        };

        let pause_when_idle = match get(vars::PAUSE_CLUSTER_WHEN_IDLE).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(EtlError::Config(format!(
                    "{} must be true or false, got {other:?}",
                    vars::PAUSE_CLUSTER_WHEN_IDLE
                )));
            }
        };
        if pause_when_idle && !matches!(target, Target::Cluster { .. }) {
            return Err(EtlError::Config(format!(
                "{} applies to a provisioned cluster only ({}); a Serverless workgroup pauses by itself",
                vars::PAUSE_CLUSTER_WHEN_IDLE,
                vars::CLUSTER_ID
            )));
        }

        Ok(Warehouse {
            target,
            database: env.require(vars::DATABASE)?,
            statement_wait: Duration::from_secs(statement_wait),
            pause_when_idle,
        })
    }
}

impl Config {
    /// Reads the process environment. The only place the functions read it.
    pub fn from_env() -> Result<Self, EtlError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`; empty values count as unset, as CloudFormation passes
    /// empty parameters through as empty strings.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EtlError> {
        let warehouse = Warehouse::from_lookup(&lookup)?;
        let env = Lookup(lookup);

        let max_load_errors = match env.get(vars::MAX_LOAD_ERRORS) {
            None => DEFAULT_MAX_LOAD_ERRORS,
            Some(text) => text.trim().parse().map_err(|_| {
                EtlError::Config(format!(
                    "{} must be a whole number, got {text:?}",
                    vars::MAX_LOAD_ERRORS
                ))
            })?,
        };

        let load_budget = match env.get(vars::LOAD_BUDGET_SECONDS) {
            None => DEFAULT_LOAD_BUDGET_SECONDS,
            Some(text) => text
                .trim()
                .parse()
                .ok()
                .filter(|seconds| *seconds <= MAX_LOAD_BUDGET_SECONDS)
                .ok_or_else(|| {
                    EtlError::Config(format!(
                        "{} must be a whole number of seconds from 0 to {MAX_LOAD_BUDGET_SECONDS}, got {text:?}",
                        vars::LOAD_BUDGET_SECONDS
                    ))
                })?,
        };

        Ok(Config {
            warehouse,
            source: DataSource {
                bucket: env.parse(vars::DATA_BUCKET, BucketName::parse)?,
                log_prefix: env.parse(vars::LOG_PREFIX, S3Key::parse)?,
                song_prefix: env.parse(vars::SONG_PREFIX, S3Key::parse)?,
                jsonpaths_key: env.parse(vars::JSONPATHS_KEY, S3Key::parse)?,
                bucket_owner: env.optional(vars::DATA_BUCKET_OWNER, AccountId::parse)?,
                manifest_bucket: env.parse(vars::MANIFEST_BUCKET, BucketName::parse)?,
                manifest_bucket_owner: env
                    .optional(vars::MANIFEST_BUCKET_OWNER, AccountId::parse)?,
                copy_role_arn: env.parse(vars::COPY_ROLE_ARN, IamRoleArn::parse)?,
                region: env.parse(vars::DATA_REGION, Region::parse)?,
                max_load_errors,
                load_budget: Duration::from_secs(load_budget),
            },
            readers: Readers {
                analysts: env.optional(vars::READER_ROLE, DbRole::parse)?,
                operators: env.optional(vars::OPERATOR_ROLE, DbRole::parse)?,
            },
            pipeline: env
                .get(vars::PIPELINE_NAME)
                .unwrap_or_else(|| DEFAULT_PIPELINE_NAME.to_owned()),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A complete provisioned-cluster environment; tests change one thing at a time.
    pub(crate) fn cluster_env() -> HashMap<&'static str, String> {
        HashMap::from([
            (vars::CLUSTER_ID, "sparkify".to_owned()),
            (vars::DB_USER, "etl".to_owned()),
            (vars::DATABASE, "dev".to_owned()),
            (
                vars::COPY_ROLE_ARN,
                "arn:aws:iam::123456789012:role/sparkify-copy".to_owned(),
            ),
            (vars::DATA_BUCKET, "udacity-dend".to_owned()),
            (vars::LOG_PREFIX, "log_data/".to_owned()),
            (vars::SONG_PREFIX, "song_data/".to_owned()),
            (vars::JSONPATHS_KEY, "log_json_path.json".to_owned()),
            (vars::DATA_REGION, "us-west-2".to_owned()),
            (vars::MANIFEST_BUCKET, "sparkify-work".to_owned()),
        ])
    }

    pub(crate) fn read(env: &HashMap<&'static str, String>) -> Result<Config, EtlError> {
        Config::from_lookup(|name| env.get(name).cloned())
    }

    #[test]
    fn the_buckets_owners_are_read_when_set_and_refused_when_not_account_ids() {
        let config = read(&cluster_env()).unwrap();
        assert_eq!(config.source.data(), (&config.source.bucket, None));
        let mut env = cluster_env();
        env.insert(vars::MANIFEST_BUCKET_OWNER, "123456789012".into());
        env.insert(vars::DATA_BUCKET_OWNER, "210987654321".into());
        let config = read(&env).unwrap();
        assert_eq!(
            config.source.manifests().1.map(AccountId::as_str),
            Some("123456789012")
        );
        assert_eq!(
            config.source.data().1.map(AccountId::as_str),
            Some("210987654321")
        );
        // CloudFormation passes an empty parameter through as an empty string: not set.
        env.insert(vars::DATA_BUCKET_OWNER, String::new());
        assert_eq!(read(&env).unwrap().source.data().1, None);
        env.insert(vars::DATA_BUCKET_OWNER, "12345".into());
        let err = read(&env).unwrap_err();
        assert!(err.to_string().contains(vars::DATA_BUCKET_OWNER), "{err}");
    }

    #[test]
    fn reads_a_cluster_with_a_db_user() {
        let config = read(&cluster_env()).unwrap();
        assert_eq!(
            config.warehouse.target,
            Target::Cluster {
                identifier: "sparkify".into(),
                credentials: ClusterCredentials::DbUser("etl".into())
            }
        );
        assert_eq!(config.source.max_load_errors, DEFAULT_MAX_LOAD_ERRORS);
        assert_eq!(config.source.bucket.as_str(), "udacity-dend");
    }

    #[test]
    fn pausing_when_idle_is_off_unless_true_and_only_for_a_cluster() {
        let pause = |value: Option<&str>, workgroup: bool| {
            let mut env = cluster_env();
            if workgroup {
                env.remove(vars::CLUSTER_ID);
                env.remove(vars::DB_USER);
                env.insert(vars::WORKGROUP, "sparkify".to_owned());
            }
            if let Some(value) = value {
                env.insert(vars::PAUSE_CLUSTER_WHEN_IDLE, value.to_owned());
            }
            read(&env).map(|config| config.warehouse.pause_when_idle)
        };
        assert_eq!(pause(None, false), Ok(false));
        assert_eq!(pause(Some("false"), false), Ok(false));
        assert_eq!(pause(Some("true"), false), Ok(true));
        assert_eq!(pause(Some("false"), true), Ok(false));
        assert_eq!(pause(Some("yes"), false).unwrap_err().name(), "ConfigError");
        let workgroup = pause(Some("true"), true).unwrap_err();
        assert!(
            workgroup.to_string().contains("cluster only"),
            "{workgroup}"
        );
    }

    #[test]
    fn the_statement_wait_defaults_to_five_seconds_and_stays_inside_the_timeout() {
        let wait = |value: Option<&str>| {
            let mut env = cluster_env();
            if let Some(value) = value {
                env.insert(vars::STATEMENT_WAIT_SECONDS, value.to_owned());
            }
            read(&env).map(|config| config.warehouse.statement_wait.as_secs())
        };
        assert_eq!(wait(None).unwrap(), DEFAULT_STATEMENT_WAIT_SECONDS);
        assert_eq!(wait(Some("0")).unwrap(), 0);
        assert_eq!(wait(Some("20")).unwrap(), 20);
        for bad in ["21", "-1", "2.5", "soon"] {
            let err = wait(Some(bad)).unwrap_err();
            assert_eq!(err.name(), "ConfigError", "{bad}");
            assert!(err.to_string().contains("STATEMENT_WAIT_SECONDS"), "{bad}");
        }
    }

    #[test]
    fn the_load_budget_defaults_to_45_minutes_and_stays_inside_the_execution_timeout() {
        let budget = |value: Option<&str>| {
            let mut env = cluster_env();
            if let Some(value) = value {
                env.insert(vars::LOAD_BUDGET_SECONDS, value.to_owned());
            }
            read(&env).map(|config| config.source.load_budget.as_secs())
        };
        assert_eq!(budget(None).unwrap(), 2700);
        assert_eq!(budget(Some("0")).unwrap(), 0);
        assert_eq!(budget(Some("5400")).unwrap(), MAX_LOAD_BUDGET_SECONDS);
        for bad in ["5401", "-1", "1h"] {
            let err = budget(Some(bad)).unwrap_err();
            assert_eq!(err.name(), "ConfigError", "{bad}");
            assert!(err.to_string().contains("LOAD_BUDGET_SECONDS"), "{bad}");
        }
    }

    #[test]
    fn reads_a_serverless_workgroup_with_or_without_a_secret() {
        let mut env = cluster_env();
        env.remove(vars::CLUSTER_ID);
        env.remove(vars::DB_USER);
        env.insert(vars::WORKGROUP, "sparkify-wg".into());
        let config = read(&env).unwrap();
        assert_eq!(
            config.warehouse.target,
            Target::Serverless {
                workgroup: "sparkify-wg".into(),
                secret_arn: None
            }
        );
        env.insert(
            vars::SECRET_ARN,
            "arn:aws:secretsmanager:us-west-2:1:secret:s".into(),
        );
        assert!(matches!(
            read(&env).unwrap().warehouse.target,
            Target::Serverless {
                secret_arn: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn rejects_ambiguous_or_missing_targets_and_credentials() {
        let mut both = cluster_env();
        both.insert(vars::WORKGROUP, "wg".into());
        let mut neither = cluster_env();
        neither.remove(vars::CLUSTER_ID);
        let mut two_credentials = cluster_env();
        two_credentials.insert(vars::SECRET_ARN, "arn:secret".into());
        let mut no_credentials = cluster_env();
        no_credentials.remove(vars::DB_USER);
        let mut serverless_with_user = cluster_env();
        serverless_with_user.remove(vars::CLUSTER_ID);
        serverless_with_user.insert(vars::WORKGROUP, "wg".into());
        for env in [
            both,
            neither,
            two_credentials,
            no_credentials,
            serverless_with_user,
        ] {
            let err = read(&env).unwrap_err();
            assert_eq!(err.name(), "ConfigError", "{err}");
        }
    }

    #[test]
    fn readers_are_optional_database_roles() {
        assert_eq!(read(&cluster_env()).unwrap().readers, Readers::default());
        let mut env = cluster_env();
        env.insert(vars::READER_ROLE, "sparkify_reader".into());
        env.insert(vars::OPERATOR_ROLE, "sparkify_operator".into());
        let readers = read(&env).unwrap().readers;
        assert_eq!(readers.analysts.unwrap().as_str(), "sparkify_reader");
        assert_eq!(readers.operators.unwrap().as_str(), "sparkify_operator");
    }

    #[test]
    fn empty_values_count_as_unset() {
        let mut env = cluster_env();
        env.insert(vars::DATABASE, "  ".into());
        assert_eq!(
            read(&env).unwrap_err(),
            EtlError::Config("REDSHIFT_DATABASE is not set".into())
        );
    }

    #[test]
    fn rejects_values_that_could_not_be_quoted_safely_into_copy() {
        for (name, value) in [
            (vars::DATA_BUCKET, "Bad_Bucket"),
            (vars::LOG_PREFIX, "log_data\\"),
            (
                vars::COPY_ROLE_ARN,
                "arn:aws:iam::123:role/x' ; DROP TABLE users; --",
            ),
            (vars::DATA_REGION, "us-west-2'"),
            (vars::MAX_LOAD_ERRORS, "ten"),
            (vars::READER_ROLE, "readers; DROP TABLE users"),
            (vars::OPERATOR_ROLE, "Ops"),
            (vars::OPERATOR_ROLE, "1ops"),
        ] {
            let mut env = cluster_env();
            env.insert(name, value.into());
            let err = read(&env).unwrap_err();
            assert!(
                matches!(&err, EtlError::Config(text) if text.starts_with(name)),
                "{name}={value:?} gave {err}"
            );
        }
    }
}
