//! Helpers for handler tests against `aws-smithy-mocks`: a complete configuration and the Data API
//! responses the tests script. Compiled only for tests (feature `testing`).

use crate::config::{Config, vars};
use crate::data_api::DataApi;
use crate::lambda::Deps;
use aws_sdk_redshiftdata::operation::batch_execute_statement::BatchExecuteStatementOutput;
use aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput;
use aws_sdk_redshiftdata::types::{StatementStatusString, StatusString, SubStatementData};

/// The configuration of a provisioned cluster reading the Sparkify bucket.
pub fn config() -> Config {
    Config::from_lookup(|name| {
        let value = match name {
            vars::CLUSTER_ID => "sparkify",
            vars::DB_USER => "etl",
            vars::DATABASE => "dev",
            vars::COPY_ROLE_ARN => "arn:aws:iam::123456789012:role/sparkify-copy",
            vars::DATA_BUCKET => "udacity-dend",
            vars::LOG_PREFIX => "log_data/",
            vars::SONG_PREFIX => "song_data/",
            vars::JSONPATHS_KEY => "log_json_path.json",
            vars::DATA_REGION => "us-west-2",
            vars::MANIFEST_BUCKET => "sparkify-work",
            // The local account, which owns every bucket redshift-local serves.
            vars::MANIFEST_BUCKET_OWNER => "123456789012",
            // Handler tests script every DescribeStatement, so calls do not follow statements.
            vars::STATEMENT_WAIT_SECONDS => "0",
            _ => return None,
        };
        Some(value.to_owned())
    })
    .expect("the test configuration is valid")
}

/// Handler dependencies around a (mocked) client.
pub fn deps(client: aws_sdk_redshiftdata::Client) -> Deps {
    let config = config();
    let data_api = DataApi::new(client, config.warehouse.clone());
    Deps {
        config,
        data_api,
        aws: aws_config::SdkConfig::builder().build(),
    }
}

pub fn submitted(id: &str) -> BatchExecuteStatementOutput {
    BatchExecuteStatementOutput::builder().id(id).build()
}

/// A DescribeStatement answer for a batch whose sub-statements are `(status, rows, error)`.
pub fn described(
    id: &str,
    status: StatusString,
    subs: &[(StatementStatusString, i64, Option<&str>)],
) -> DescribeStatementOutput {
    let sub_statements = subs
        .iter()
        .enumerate()
        .map(|(index, (status, rows, error))| {
            SubStatementData::builder()
                .id(format!("{id}:{}", index + 1))
                .status(status.clone())
                .result_rows(*rows)
                .set_error(error.map(str::to_owned))
                .build()
                .expect("sub-statement has an id")
        })
        .collect();
    DescribeStatementOutput::builder()
        .id(id)
        .status(status)
        .set_error(
            subs.iter()
                .find_map(|(_, _, error)| error.map(str::to_owned)),
        )
        .set_sub_statements(Some(sub_statements))
        .build()
        .expect("statement has an id")
}
