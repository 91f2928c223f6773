//! copy-staging: replaces the staging tables' contents with a COPY from S3, as one transaction.
//! A full load (nightly schedule or manual start) reads every log under the log prefix; a new-file
//! run reads just the object named by the S3 "Object Created" event. Song metadata is reloaded on
//! both, so the songplays join always sees the whole catalogue.

use serde::Deserialize;
use serde_json::Value;
use sparkify::config::DataSource;
use sparkify::sql::{Literal, catalogue, render};
use sparkify::step::advance;
use sparkify::trigger::Trigger;
use sparkify::{Deps, EtlError, StepInput, StepOutput};

pub const STEP: &str = "copy-staging";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Input {
    #[serde(flatten)]
    pub step: StepInput,
    /// The execution input (`$$.Execution.Input`): the EventBridge event that started the run, or
    /// a manual start's input.
    pub trigger: Value,
}

pub async fn handle(deps: &Deps, input: Input) -> Result<StepOutput, EtlError> {
    let source = &deps.config.source;
    advance(&deps.data_api, STEP, &input.step, || {
        let trigger = Trigger::from_execution_input(&input.trigger, source)?;
        tracing::info!(step = STEP, trigger = ?trigger, "planning the load");
        copy_statements(source, &trigger)
    })
    .await
}

/// The batch for a trigger: clear and reload each staging table.
pub fn copy_statements(source: &DataSource, trigger: &Trigger) -> Result<Vec<String>, EtlError> {
    let events_key = match trigger {
        Trigger::FullLoad => &source.log_prefix,
        Trigger::NewLogObject(key) => key,
    };
    let shared = || {
        [
            ("copy_role_arn", Literal::role(&source.copy_role_arn)),
            ("region", Literal::region(&source.region)),
            ("max_errors", Literal::count(source.max_load_errors)),
        ]
    };
    let mut events_values = vec![
        ("events_source", Literal::s3_uri(&source.bucket, events_key)),
        (
            "jsonpaths",
            Literal::s3_uri(&source.bucket, &source.jsonpaths_key),
        ),
    ];
    events_values.extend(shared());
    let mut songs_values = vec![(
        "songs_source",
        Literal::s3_uri(&source.bucket, &source.song_prefix),
    )];
    songs_values.extend(shared());
    Ok(vec![
        catalogue::CLEAR_STAGING_EVENTS.text.to_owned(),
        render(&catalogue::COPY_STAGING_EVENTS, &events_values)?,
        catalogue::CLEAR_STAGING_SONGS.text.to_owned(),
        render(&catalogue::COPY_STAGING_SONGS, &songs_values)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_redshiftdata::Client;
    use aws_smithy_mocks::{mock, mock_client};
    use serde_json::json;
    use sparkify::data_api::client_token;
    use sparkify::sql::S3Key;
    use sparkify::testing::{config, deps, submitted};

    fn input(trigger: Value) -> Input {
        Input {
            step: StepInput {
                execution: "exec-1".into(),
                statement_id: None,
            },
            trigger,
        }
    }

    #[test]
    fn a_full_load_copies_both_prefixes_with_quoted_configuration() {
        let sqls = copy_statements(&config().source, &Trigger::FullLoad).unwrap();
        assert_eq!(sqls.len(), 4);
        assert!(sqls[0].contains("DELETE FROM staging_events"));
        assert!(sqls[1].contains("FROM 's3://udacity-dend/log_data/'"));
        assert!(sqls[1].contains("FORMAT AS JSON 's3://udacity-dend/log_json_path.json'"));
        assert!(sqls[1].contains("IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-copy'"));
        assert!(sqls[1].contains("REGION 'us-west-2'"));
        assert!(sqls[1].contains("MAXERROR 10"));
        assert!(sqls[2].contains("DELETE FROM staging_songs"));
        assert!(sqls[3].contains("FROM 's3://udacity-dend/song_data/'"));
        assert!(sqls[3].contains("FORMAT AS JSON 'auto'"));
        assert!(sqls.iter().all(|sql| !sql.contains("{{")));
    }

    #[test]
    fn a_new_object_copies_that_key_only_with_quotes_doubled() {
        let key = S3Key::parse("log_data/2018/11/it's-new.json").unwrap();
        let sqls = copy_statements(&config().source, &Trigger::NewLogObject(key)).unwrap();
        assert!(sqls[1].contains("FROM 's3://udacity-dend/log_data/2018/11/it''s-new.json'"));
    }

    #[tokio::test]
    async fn an_object_created_event_submits_its_copy_under_the_step_token() {
        let submit = mock!(Client::batch_execute_statement)
            .match_requests(|req| {
                req.sqls()[1].contains("s3://udacity-dend/log_data/2018/11/2018-11-30-events.json")
                    && req.client_token() == Some(client_token("exec-1", STEP).as_str())
            })
            .then_output(|| submitted("copy-1"));
        let client = mock_client!(aws_sdk_redshiftdata, [&submit]);
        let event = json!({
            "detail-type": "Object Created", "source": "aws.s3",
            "detail": {"bucket": {"name": "udacity-dend"},
                       "object": {"key": "log_data/2018/11/2018-11-30-events.json"}}
        });
        let out = handle(&deps(client), input(event)).await.unwrap();
        assert_eq!(out.statement_id, "copy-1");
        assert_eq!(submit.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_bad_trigger_is_invalid_input_and_submits_nothing() {
        let submit = mock!(Client::batch_execute_statement).then_output(|| submitted("never"));
        let client = mock_client!(aws_sdk_redshiftdata, [&submit]);
        let event = json!({"detail-type": "Object Created", "detail": {
            "bucket": {"name": "udacity-dend"}, "object": {"key": "elsewhere/x.json"}}});
        let err = handle(&deps(client), input(event)).await.unwrap_err();
        assert_eq!(err.name(), "InvalidInput");
        assert_eq!(submit.num_calls(), 0);
    }
}
