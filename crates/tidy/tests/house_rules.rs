//! House rules over the tree: the parts written in different languages (SQL, ASL, YAML, JSON,
//! Rust) must agree, and `cargo test` says so when they drift apart.

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_yaml_ng::Value as Yaml;
use sparkify::EtlError;
use sparkify::config::vars;
use sparkify::lambda::parse_input;
use sparkify::metrics::{self, Name};
use sparkify::sql::catalogue;
use sparkify::trigger::Trigger;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    manifest_dir().join("../..")
}

fn read(relative: &str) -> String {
    fs::read_to_string(root().join(relative)).unwrap_or_else(|err| panic!("{relative}: {err}"))
}

fn files_under(relative: &str, extension: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root().join(relative)];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|err| panic!("{dir:?}: {err}")) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == extension) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn relative_to(base: &str, path: &Path) -> String {
    path.strip_prefix(root().join(base))
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

fn asl() -> Value {
    serde_json::from_str(&read("statemachine/etl.asl.json")).expect("the ASL is JSON")
}

fn template() -> Yaml {
    serde_yaml_ng::from_str(&read("template.yaml")).expect("the template is YAML")
}

fn mapping_keys(value: &Yaml) -> BTreeSet<String> {
    value
        .as_mapping()
        .expect("a mapping")
        .keys()
        .map(|key| key.as_str().expect("string keys").to_owned())
        .collect()
}

/// Every value under `key` anywhere in `value`.
fn collect<'a>(value: &'a Value, key: &str, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == key {
                    out.push(v);
                }
                collect(v, key, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, key, out)),
        _ => {}
    }
}

#[test]
fn every_sql_file_is_in_the_catalogue_and_back() {
    let on_disk: BTreeSet<String> = files_under("sql", "sql")
        .iter()
        .map(|p| relative_to("sql", p))
        .collect();
    let catalogue = catalogue::all();
    let listed: BTreeSet<String> = catalogue.iter().map(|f| f.path.to_owned()).collect();
    assert_eq!(listed.len(), catalogue.len(), "a file is listed twice");
    assert_eq!(on_disk, listed, "sql/ and the catalogue disagree");
}

#[test]
fn every_sql_file_is_one_statement() {
    // Each file is one element of a Data API batch, which takes one statement per element.
    for file in catalogue::all() {
        let code: String = file
            .text
            .lines()
            .map(|line| line.split("--").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let code = code.trim();
        assert!(code.ends_with(';'), "sql/{} must end with ';'", file.path);
        assert_eq!(
            code.matches(';').count(),
            1,
            "sql/{} holds more than one statement",
            file.path
        );
    }
}

#[test]
fn no_sql_anchors_a_regular_expression() {
    // Redshift's POSIX `^` and `$` match at the beginning and end of every line as well as of the
    // string ("POSIX operators", Redshift Database Developer Guide); PostgreSQL's, which the
    // stand-in runs, only at the string's. A pattern that relies on either would pass here and
    // let text with a newline through on Redshift, so no pattern uses them.
    for file in catalogue::all() {
        for line in file.text.lines() {
            let code = line.split("--").next().unwrap_or("");
            let mut rest = code;
            while let Some(at) = rest.find("~ '") {
                let pattern = &rest[at + 3..];
                let end = pattern.find('\'').unwrap_or(pattern.len());
                assert!(
                    !pattern[..end].contains(['^', '$']),
                    "sql/{}: anchored pattern in {code:?}",
                    file.path
                );
                rest = &pattern[end..];
            }
        }
    }
}

#[test]
fn every_sql_statement_parses_as_redshift_sql() {
    use sqlparser::dialect::RedshiftSqlDialect;
    use sqlparser::parser::Parser;
    // sqlparser 0.63 knows every option our COPY templates use but MAXERROR (documented by
    // Redshift as `MAXERROR [AS] error_count`), so the two COPY templates are left to the render
    // tests in sparkify::sql and copy-staging.
    let copy_templates = [
        catalogue::COPY_STAGING_EVENTS,
        catalogue::COPY_STAGING_SONGS,
    ];
    // Placeholders stand for quoted literals (sparkify::sql::Literal), or for a database role's
    // name after ROLE (Literal::db_role); parse with one in each.
    let filled = |text: &str| {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("closed placeholder") + start;
            out.push_str(if out.ends_with("ROLE ") {
                "\"placeholder\""
            } else {
                "'placeholder'"
            });
            rest = &rest[end + 2..];
        }
        out + rest
    };
    let mut parsed = 0;
    for file in catalogue::all()
        .into_iter()
        .filter(|f| !copy_templates.contains(f))
    {
        let statements = Parser::parse_sql(&RedshiftSqlDialect {}, &filled(file.text))
            .unwrap_or_else(|err| panic!("sql/{}: {err}", file.path));
        assert_eq!(statements.len(), 1, "sql/{}", file.path);
        parsed += 1;
    }
    assert_eq!(parsed, catalogue::all().len() - copy_templates.len());
}

#[test]
fn every_asl_substitution_is_defined_in_the_template_and_back() {
    let template = template();
    for (file, machine) in [
        ("statemachine/etl.asl.json", "EtlStateMachine"),
        ("statemachine/start.asl.json", "StartStateMachine"),
    ] {
        let text = read(file);
        let used: BTreeSet<String> = text
            .split("${")
            .skip(1)
            .map(|rest| rest.split('}').next().unwrap().to_owned())
            .collect();
        let properties = &template["Resources"][machine]["Properties"];
        assert_eq!(written(&properties["DefinitionUri"]), file);
        assert_eq!(
            used,
            mapping_keys(&properties["DefinitionSubstitutions"]),
            "{file}"
        );
    }
}

/// EventBridge and Pipes cannot name the executions they start: the nightly schedule and the
/// new-file Pipe start the Express starter, which names the ETL execution after the trigger, the
/// (first) event's time and its id, and ends as AlreadyStarted (a success) when it came before.
/// New files reach the Pipe through the rule and the queue, in windows of NewFileWindowSeconds.
#[test]
fn the_triggers_start_the_etl_through_the_starter_under_a_name_of_the_event() {
    let template = template();
    let resources = &template["Resources"];
    assert!(
        resources["EtlStateMachine"]["Properties"]["Events"].is_null(),
        "no trigger may start the ETL unnamed"
    );
    let starter = &resources["StartStateMachine"]["Properties"];
    assert_eq!(starter["Type"], "EXPRESS");
    let events = starter["Events"].as_mapping().expect("the triggers");
    let kinds: BTreeSet<String> = events
        .values()
        .map(|event| event["Type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["Schedule".to_owned()]));
    let rule = &resources["NewLogFileRule"]["Properties"];
    assert_eq!(
        written(&rule["Targets"][0]["Arn"]),
        "!GetAtt NewFileQueue.Arn"
    );
    assert!(
        rule["Targets"][0]["RoleArn"].is_null(),
        "a queue takes events by its policy"
    );
    let queue_policy = format!("{:?}", resources["NewFileQueuePolicy"]["Properties"]);
    assert!(
        queue_policy.contains("NewLogFileRule.Arn"),
        "{queue_policy}"
    );
    let pipe = &resources["NewFilePipe"]["Properties"];
    assert_eq!(written(&pipe["Source"]), "!GetAtt NewFileQueue.Arn");
    assert_eq!(written(&pipe["Target"]), "!Ref StartStateMachine");
    let sqs = &pipe["SourceParameters"]["SqsQueueParameters"];
    // Set, not left to a default the Pipes guide gives two ways (10 and 100).
    assert_eq!(sqs["BatchSize"], 50);
    assert_eq!(
        written(&sqs["MaximumBatchingWindowInSeconds"]),
        "!Ref NewFileWindowSeconds"
    );
    let window = &template["Parameters"]["NewFileWindowSeconds"];
    assert_eq!(
        (&window["MinValue"], &window["MaxValue"]),
        (&Yaml::from(1), &Yaml::from(300))
    );
    assert_eq!(
        pipe["TargetParameters"]["StepFunctionStateMachineParameters"]["InvocationType"],
        "REQUEST_RESPONSE"
    );
    let pipe_role = format!(
        "{:?}",
        resources["NewFilePipeRole"]["Properties"]["Policies"]
    );
    assert_eq!(pipe_role.matches("states:").count(), 1, "{pipe_role}");
    assert!(
        pipe_role.contains("states:StartSyncExecution"),
        "{pipe_role}"
    );
    assert_eq!(
        written(&starter["DefinitionSubstitutions"]["EtlStateMachineArn"]),
        "!Ref EtlStateMachine"
    );
    // It may start the ETL and nothing else.
    let policy = format!("{:?}", starter["Policies"]);
    assert_eq!(policy.matches("states:").count(), 1, "{policy}");
    assert!(policy.contains("states:StartExecution"), "{policy}");

    let asl: Value =
        serde_json::from_str(&read("statemachine/start.asl.json")).expect("the ASL is JSON");
    let states = asl["States"].as_object().unwrap();
    // One branch per trigger the functions know, named as the local runs name them.
    let mut branches = BTreeSet::new();
    for choice in states["EventType"]["Choices"].as_array().unwrap() {
        let detail_type = choice["StringEquals"].as_str().unwrap();
        let kind = states[choice["Next"].as_str().unwrap()]["Parameters"]["kind"]
            .as_str()
            .unwrap();
        let source = sparkify::testing::config().source;
        let event = serde_json::json!({"detail-type": detail_type, "detail": {
            "bucket": {"name": source.bucket.as_str()},
            "object": {"key": format!("{}2018/11/x.json", source.log_prefix.as_str())}}});
        Trigger::from_execution_input(&event, &source)
            .unwrap_or_else(|err| panic!("{detail_type}: {err:?}"));
        branches.insert((detail_type.to_owned(), kind.to_owned()));
    }
    assert_eq!(
        branches,
        BTreeSet::from([
            ("Object Created".to_owned(), "new-file".to_owned()),
            ("Scheduled Event".to_owned(), "nightly".to_owned()),
        ])
    );
    // A batch of the queue: its input is a window the functions read as new log objects.
    let window = &states["WindowEvent"]["Parameters"];
    assert_eq!(window["kind"], "new-files");
    assert_eq!(window["event"]["detail-type"], sparkify::trigger::WINDOW);
    assert_eq!(window["event"]["events.$"], "$[*].event");
    let start = &states["StartEtl"];
    assert_eq!(
        start["Resource"],
        "arn:aws:states:::aws-sdk:sfn:startExecution"
    );
    let name = start["Parameters"]["Name.$"].as_str().unwrap();
    assert!(name.starts_with("States.Format('{}-"), "{name}");
    for part in ["$.kind", "$.time", "$.event.id"] {
        assert!(name.contains(part), "{name} lacks {part}");
    }
    assert_eq!(
        start["Parameters"]["Input.$"],
        "States.JsonToString($.event)"
    );
    // A refusal because the run exists is never retried and ends in success.
    let retries = start["Retry"].as_array().unwrap();
    assert_eq!(
        retries[0]["ErrorEquals"],
        serde_json::json!(["Sfn.ExecutionAlreadyExistsException"])
    );
    assert_eq!(retries[0]["MaxAttempts"], 0);
    let catch = &start["Catch"][0];
    assert_eq!(
        catch["ErrorEquals"],
        serde_json::json!(["Sfn.ExecutionAlreadyExistsException"])
    );
    assert_eq!(states[catch["Next"].as_str().unwrap()]["Type"], "Succeed");
}

#[test]
fn every_error_name_in_the_asl_is_raised_by_the_code_and_every_raised_name_is_caught() {
    let asl = asl();
    let mut lists = Vec::new();
    collect(&asl, "ErrorEquals", &mut lists);
    let names: BTreeSet<&str> = lists
        .iter()
        .flat_map(|list| list.as_array().unwrap())
        .map(|name| name.as_str().unwrap())
        .collect();
    for name in &names {
        // Step Functions' names, the Lambda service's, the one Lambda gives a function it
        // stopped at its Timeout (Sandbox.Timedout), and Step Functions' own API's through its
        // SDK integration (ContinueLoad's start of an execution that exists).
        let aws_defined = name.starts_with("States.")
            || name.starts_with("Lambda.")
            || *name == "Sandbox.Timedout"
            || *name == "Sfn.ExecutionAlreadyExistsException";
        assert!(
            aws_defined || EtlError::NAMES.contains(name),
            "the ASL matches {name}, which no code raises"
        );
    }
    let mut catchers = Vec::new();
    collect(&asl, "Catch", &mut catchers);
    let caught: BTreeSet<&str> = catchers
        .iter()
        .flat_map(|c| c.as_array().unwrap())
        .flat_map(|c| c["ErrorEquals"].as_array().unwrap())
        .map(|name| name.as_str().unwrap())
        .collect();
    for name in EtlError::NAMES {
        assert!(
            caught.contains(name),
            "the code raises {name}, which no Catch names"
        );
    }
}

#[test]
fn every_lambda_task_retries_only_transient_errors_with_jitter_and_catches_every_named_error() {
    let asl = asl();
    let states = asl["States"].as_object().unwrap();
    let tasks: Vec<_> = states
        .iter()
        .filter(|(_, s)| s["Resource"] == "arn:aws:states:::lambda:invoke")
        .collect();
    // The five steps, and the warehouse's Warehouse and Release.
    assert_eq!(tasks.len(), 7);
    // A step's call is idempotent (a submit carries its ClientToken, a poll only reads), so a
    // call that timed out (States.Timeout for the Task's, Sandbox.Timedout for the function's own
    // Lambda Timeout, or Lambda.Unknown when Lambda gives no error type) can be made again. A
    // function Lambda killed past its MemorySize (Runtime.ExitError) would be killed again.
    let transient = [
        "Throttled",
        "DataApiUnavailable",
        "S3Unavailable",
        "WarehouseUnavailable",
        "States.Timeout",
        "Sandbox.Timedout",
    ];
    for (name, task) in tasks {
        assert!(
            task["TimeoutSeconds"].as_u64().is_some(),
            "{name} has no timeout"
        );
        for retrier in task["Retry"].as_array().unwrap() {
            assert_eq!(retrier["JitterStrategy"], "FULL", "{name}");
            for error in retrier["ErrorEquals"].as_array().unwrap() {
                let error = error.as_str().unwrap();
                assert!(
                    error.starts_with("Lambda.") || transient.contains(&error),
                    "{name} retries {error}, which is not transient"
                );
            }
        }
        let catch_all_last = task["Catch"].as_array().unwrap().last().unwrap();
        assert_eq!(
            catch_all_last["ErrorEquals"],
            serde_json::json!(["States.ALL"]),
            "{name}"
        );
        // What States.ALL catches may be a States.* name, which a Fail state cannot end with.
        // Release's failure leaves the run's outcome as it was (ReleaseFailed names it).
        let renamer = if name == "Release" {
            "ReleaseFailed"
        } else {
            "NameFailure"
        };
        assert_eq!(catch_all_last["Next"], renamer, "{name}");
        let retried: Vec<&str> = task["Retry"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["ErrorEquals"].as_array().unwrap())
            .filter_map(Value::as_str)
            .collect();
        assert!(
            ["States.Timeout", "Sandbox.Timedout", "Lambda.Unknown"]
                .iter()
                .all(|timed_out| retried.contains(timed_out)),
            "{name} must retry a timed-out call"
        );
        assert!(!retried.contains(&"Runtime.ExitError"), "{name}");
    }
    assert!(
        asl["TimeoutSeconds"].as_u64().is_some(),
        "the execution has no timeout"
    );
    // Every States.* name is renamed before the Fail state, and the names Lambda gives a function it
    // stopped (its timeout, its memory); any other reaches it as it is.
    let name_failure = &asl["States"]["NameFailure"];
    let renamed: Vec<(&str, &str)> = name_failure["Choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let pattern = c["StringEquals"].as_str().or(c["StringMatches"].as_str());
            let target = &asl["States"][c["Next"].as_str().unwrap()];
            (
                pattern.unwrap(),
                target["Parameters"]["Error"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        renamed,
        [
            ("States.Timeout", "StepTimedOut"),
            ("Sandbox.Timedout", "StepTimedOut"),
            ("Runtime.ExitError", "StepFailed"),
            ("States.*", "StepFailed")
        ]
    );
    assert_eq!(name_failure["Default"], "DescribeFailure");
}

/// The Tasks of the five steps: each keeps its answer under `$.steps.<step>` (the warehouse's
/// Warehouse and Release Tasks are not steps: they run no statement).
fn step_tasks(asl: &Value) -> Vec<(&String, &Value)> {
    asl["States"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, s)| {
            s["Resource"] == "arn:aws:states:::lambda:invoke"
                && s["ResultPath"]
                    .as_str()
                    .is_some_and(|path| path.starts_with("$.steps."))
        })
        .collect()
}

#[test]
fn a_lost_serialization_conflict_resubmits_the_step_as_a_new_attempt_a_bounded_number_of_times() {
    let asl = asl();
    let states = &asl["States"];
    let tasks = step_tasks(&asl);
    assert_eq!(tasks.len(), 5);
    for (name, task) in tasks {
        // The step's key in $.steps, from where the Task puts its answer.
        let path = task["ResultPath"].as_str().unwrap();
        let first = &task["Catch"][0];
        assert_eq!(
            first["ErrorEquals"],
            serde_json::json!(["SerializationConflict"]),
            "{name}"
        );
        assert_eq!(first["ResultPath"], "$.conflict", "{name}");
        assert_eq!(
            task["Parameters"]["Payload"]["attempt.$"],
            format!("{path}.attempt"),
            "{name} must send the function its attempt"
        );
        assert_eq!(
            task["ResultSelector"]["attempt.$"], "$.Payload.attempt",
            "{name} must keep the attempt the function hands back"
        );
        let choice = &states[first["Next"].as_str().unwrap()];
        assert_eq!(choice["Type"], "Choice", "{name}");
        let [cap] = choice["Choices"].as_array().unwrap().as_slice() else {
            panic!("{name}: one cap")
        };
        assert_eq!(cap["Variable"], format!("{path}.attempt"), "{name}");
        assert!(
            cap["NumericGreaterThanEquals"].as_u64().unwrap() <= 10,
            "{name}"
        );
        let exhausted = &states[cap["Next"].as_str().unwrap()];
        assert_eq!(exhausted["InputPath"], "$.conflict", "{name}");
        assert_eq!(exhausted["ResultPath"], "$.error", "{name}");
        assert_eq!(exhausted["Next"], "DescribeFailure", "{name}");
        let resubmit = &states[choice["Default"].as_str().unwrap()];
        assert_eq!(resubmit["Type"], "Pass", "{name}");
        assert_eq!(resubmit["ResultPath"], path, "{name}");
        let params = &resubmit["Parameters"];
        assert_eq!(params["statement_id"], Value::Null, "{name}");
        assert_eq!(
            params["attempt.$"],
            format!("States.MathAdd({path}.attempt, 1)"),
            "{name}"
        );
        // Back to the same Task, through its Wait.
        let wait = &states[resubmit["Next"].as_str().unwrap()];
        assert_eq!(wait["Type"], "Wait", "{name}");
        assert_eq!(wait["Next"], name.as_str(), "{name}");
        let start = format!("{}.attempt", path.replacen("$.", "", 1));
        let mut initial = &states["Start"]["Parameters"];
        for part in start.split('.') {
            initial = &initial[part];
        }
        assert_eq!(
            initial,
            &serde_json::json!(0),
            "{name}: Start sets attempt 0"
        );
    }
}

/// The fields each step's function returns, by the substitution its Task names it with.
fn output_fields(function: &str) -> BTreeSet<String> {
    let step = sparkify::StepOutput {
        step: String::new(),
        statement_id: String::new(),
        status: String::new(),
        done: false,
        rows_affected: Vec::new(),
        moved: Vec::new(),
        attempt: 0,
        finished_at: None,
    };
    let output = match function {
        "${CreateTablesFunctionArn}"
        | "${LoadFactsFunctionArn}"
        | "${LoadDimensionsFunctionArn}" => serde_json::to_value(step),
        "${CopyStagingFunctionArn}" => serde_json::to_value(copy_staging::Output {
            step,
            phase: copy_staging::Phase::Plan,
            round: 0,
            more: false,
            staged: Vec::new(),
            round_objects: copy_staging::RoundObjects::default(),
            planned: None,
            carried: copy_staging::Carried::default(),
            quarantine_cause: None,
            backlog: false,
            continuation: None,
        }),
        "${VerifyCountsFunctionArn}" => {
            serde_json::to_value(verify_counts::Output { step, report: None })
        }
        "${WarehouseFunctionArn}" => serde_json::to_value(warehouse::Output {
            ready: false,
            status: String::new(),
            polls: 0,
            note: String::new(),
        }),
        other => panic!("a Task invokes {other}, which is no step"),
    };
    output
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// A state's field names as it sets them (`done.$` sets `done`).
fn set_fields(parameters: &Value) -> BTreeSet<String> {
    parameters
        .as_object()
        .unwrap()
        .keys()
        .map(|key| key.trim_end_matches(".$").to_owned())
        .collect()
}

#[test]
fn every_step_task_keeps_everything_its_function_returns() {
    let asl = asl();
    for (name, task) in asl["States"].as_object().unwrap() {
        if task["Resource"] != "arn:aws:states:::lambda:invoke" {
            continue;
        }
        let function = task["Parameters"]["FunctionName"].as_str().unwrap();
        let selector = &task["ResultSelector"];
        // The step's name is the Task's own; everything else is for the next call, the Choice or
        // the people watching (`moved`, `report`).
        let mut returned = output_fields(function);
        returned.remove("step");
        assert_eq!(set_fields(selector), returned, "{name}'s ResultSelector");
        for field in returned {
            assert_eq!(
                selector[format!("{field}.$")],
                format!("$.Payload.{field}"),
                "{name}"
            );
        }
    }
}

/// What a step's next call needs from the last one it reads back from `$.steps.<step>`: a field
/// missing there fails the Task's Payload. Start sets it before the first call, the Task after
/// each, and the step's Resubmit after a lost serialization conflict.
#[test]
fn every_field_a_step_reads_back_is_set_by_start_by_its_task_and_by_its_resubmit() {
    let asl = asl();
    let states = &asl["States"];
    for (name, task) in step_tasks(&asl) {
        let path = task["ResultPath"].as_str().unwrap();
        let key = path.strip_prefix("$.steps.").unwrap();
        let read_back: BTreeSet<String> = task["Parameters"]["Payload"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(|value| value.as_str()?.strip_prefix(&format!("{path}.")))
            .map(str::to_owned)
            .collect();
        assert!(read_back.contains("statement_id"), "{name}");
        let conflict = states[task["Catch"][0]["Next"].as_str().unwrap()]["Default"]
            .as_str()
            .unwrap();
        let setters = [
            ("Start", &states["Start"]["Parameters"]["steps"][key]),
            (name.as_str(), &task["ResultSelector"]),
            (conflict, &states[conflict]["Parameters"]),
        ];
        for (setter, parameters) in setters {
            let set = set_fields(parameters);
            let missing: Vec<&String> = read_back.difference(&set).collect();
            assert!(
                missing.is_empty(),
                "{name} reads {missing:?} back from {path}, which {setter} does not set"
            );
        }
    }
}

/// A step reads another step's result only where that step's Task keeps the field: verify-counts
/// times the run's steps by their `finished_at`. A field missing there fails the Task's Payload.
#[test]
fn every_field_a_step_reads_of_another_step_is_kept_by_that_steps_task() {
    fn paths<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::String(path) => out.push(path),
            Value::Object(map) => map.values().for_each(|v| paths(v, out)),
            Value::Array(items) => items.iter().for_each(|v| paths(v, out)),
            _ => {}
        }
    }
    let asl = asl();
    let tasks = step_tasks(&asl);
    let kept: BTreeMap<&str, BTreeSet<String>> = tasks
        .iter()
        .map(|(_, task)| {
            let key = task["ResultPath"].as_str().unwrap();
            (key, set_fields(&task["ResultSelector"]))
        })
        .collect();
    let mut read = 0;
    for (name, task) in &tasks {
        let own = task["ResultPath"].as_str().unwrap();
        let mut found = Vec::new();
        paths(&task["Parameters"]["Payload"], &mut found);
        for path in found {
            let Some(rest) = path.strip_prefix("$.steps.") else {
                continue;
            };
            let (step, field) = rest.split_once('.').unwrap();
            let result = format!("$.steps.{step}");
            if result == own {
                continue;
            }
            read += 1;
            assert!(
                kept[result.as_str()].contains(field),
                "{name} reads {path}, which the task of {result} does not keep"
            );
        }
    }
    // verify-counts reads when each of the four steps before it was done.
    assert_eq!(read, 4);
}

#[test]
fn the_template_sets_exactly_the_variables_the_config_reads() {
    let set = mapping_keys(&template()["Globals"]["Function"]["Environment"]["Variables"]);
    let read: BTreeSet<String> = vars::ALL.iter().map(|v| (*v).to_owned()).collect();
    assert_eq!(set, read);
}

/// The runbook's table of metrics (docs/runbook.md#metrics) names every metric the functions
/// emit, in its namespace, and nothing else: what an operator reads there is what CloudWatch has.
#[test]
fn the_runbooks_metrics_are_the_ones_the_functions_emit_and_back() {
    let runbook = read("docs/runbook.md");
    let section = runbook
        .split("\n## Metrics\n")
        .nth(1)
        .expect("docs/runbook.md has a Metrics section")
        .split("\n## ")
        .next()
        .unwrap();
    let mut documented = BTreeSet::new();
    for row in section.lines().filter(|line| line.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let unit = cells[2].split(' ').next().unwrap();
        for name in cells[1].split(", ") {
            let name = name.trim_matches('`');
            let metric = Name::ALL
                .into_iter()
                .find(|known| known.as_str() == name)
                .unwrap_or_else(|| panic!("the runbook names {name}, which no function emits"));
            assert_eq!(metric.unit(), unit, "{name}'s unit");
            documented.insert(name.to_owned());
        }
    }
    let emitted: BTreeSet<String> = Name::ALL.iter().map(|n| n.as_str().to_owned()).collect();
    assert_eq!(documented, emitted);
    assert!(section.contains(&format!("`{}`", metrics::NAMESPACE)));
    assert!(section.contains(&format!("`{}`", metrics::DIMENSION)));
}

/// The template's dashboard and alarms name, in the pipeline's namespace, exactly the metrics
/// the functions emit ([`Name::ALL`]): none that nothing writes (a widget or alarm that would
/// stay empty, or an alarm that would breach for ever on missing data), none written unseen. The
/// dashboard's body is valid JSON once its substitutions are made, and names the pipeline
/// dimension as the functions set it (the stack's name, PIPELINE_NAME).
#[test]
fn the_dashboard_and_alarms_name_exactly_the_metrics_the_functions_emit() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let mut named = BTreeSet::new();
    for (name, resource) in resources {
        let properties = &resource["Properties"];
        if resource["Type"] == "AWS::CloudWatch::Alarm"
            && properties["Namespace"].as_str() == Some(metrics::NAMESPACE)
        {
            named.insert(properties["MetricName"].as_str().unwrap().to_owned());
            assert_eq!(
                properties["Dimensions"][0]["Name"].as_str(),
                Some(metrics::DIMENSION),
                "{name:?}"
            );
            assert_eq!(
                properties["Dimensions"][0]["Value"],
                template["Globals"]["Function"]["Environment"]["Variables"][vars::PIPELINE_NAME],
                "{name:?}"
            );
        }
        if resource["Type"] == "AWS::CloudWatch::Dashboard" {
            let mut warehouses = BTreeSet::new();
            for body in dashboard_bodies(&properties["DashboardBody"]) {
                let body: Value = serde_json::from_str(&body).unwrap_or_else(|err| {
                    panic!("the dashboard's body is not JSON: {err}\n{body}")
                });
                let mut namespace = String::new();
                for widget in body["widgets"].as_array().unwrap() {
                    for metric in widget["properties"]["metrics"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        let row = metric.as_array().unwrap();
                        if row[0] != "." {
                            namespace = row[0].as_str().unwrap().to_owned();
                        }
                        if namespace == metrics::NAMESPACE {
                            named.insert(row[1].as_str().unwrap().to_owned());
                            assert!(row[2] == metrics::DIMENSION || row[2] == ".", "{row:?}");
                        }
                        if namespace.starts_with("AWS/Redshift") && row[0] != "." {
                            warehouses
                                .insert((namespace.clone(), row[2].as_str().unwrap().to_owned()));
                        }
                    }
                }
            }
            // One body per kind of warehouse, each with its own metrics by the dimension AWS
            // publishes them with ("Amazon Redshift metrics", "Amazon Redshift Serverless metrics").
            let expected: BTreeSet<(String, String)> = [
                ("AWS/Redshift", "ClusterIdentifier"),
                ("AWS/Redshift-Serverless", "Workgroup"),
            ]
            .map(|(n, d)| (n.to_owned(), d.to_owned()))
            .into();
            assert_eq!(warehouses, expected, "{name:?}");
        }
    }
    let emitted: BTreeSet<String> = Name::ALL.iter().map(|n| n.as_str().to_owned()).collect();
    assert_eq!(named, emitted);
}

/// A !Sub string with every `${...}` replaced by a placeholder without quotes or braces.
/// The dashboard's body as CloudFormation substitutes it, once for each branch of each `!If` its
/// `!Sub` variables choose between (every other `${...}` becomes a plain word).
fn dashboard_bodies(body: &Yaml) -> Vec<String> {
    let Yaml::Tagged(sub) = body else {
        panic!("the dashboard's body is a !Sub");
    };
    let (text, variables) = match &sub.value {
        Yaml::String(text) => (text.clone(), None),
        Yaml::Sequence(items) => (
            items[0].as_str().unwrap().to_owned(),
            Some(items[1].as_mapping().unwrap()),
        ),
        other => panic!("a !Sub of {other:?}"),
    };
    let mut bodies = vec![text];
    for (name, value) in variables.into_iter().flatten() {
        let placeholder = format!("${{{}}}", name.as_str().unwrap());
        let branches: Vec<String> = match value {
            Yaml::Tagged(choice) if choice.tag == "If" => choice.value.as_sequence().unwrap()[1..]
                .iter()
                .map(|branch| match branch {
                    Yaml::Tagged(inner) if inner.tag == "Sub" => {
                        inner.value.as_str().unwrap().to_owned()
                    }
                    other => other.as_str().unwrap().to_owned(),
                })
                .collect(),
            other => vec![other.as_str().unwrap().to_owned()],
        };
        let placeholder = &placeholder;
        bodies = branches
            .iter()
            .flat_map(|branch| bodies.iter().map(move |b| b.replace(placeholder, branch)))
            .collect();
    }
    // Each !If branch gives one body: a cluster's and a workgroup's.
    assert_eq!(bodies.len(), 4, "two variables, two branches each");
    bodies.iter().map(|b| regex_lite_substitute(b)).collect()
}

fn regex_lite_substitute(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed substitution") + start;
        out.push_str("substituted");
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Every function deploys the one bootstrap (functions/bootstrap) and is the function its Handler
/// names; every function folder beside it is the Handler of a function of the template, and the
/// bootstrap serves each of them.
#[test]
fn every_function_folder_is_a_handler_of_the_one_bootstrap_the_template_builds_and_back() {
    let folders: BTreeSet<String> = fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|folder| folder != "bootstrap")
        .collect();
    let template = template();
    assert!(
        template["Globals"]["Function"]["Handler"].is_null(),
        "each function names its own Handler"
    );
    let mut handlers = BTreeSet::new();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"] == "AWS::Serverless::Function" {
            assert_eq!(
                resource["Metadata"]["BuildMethod"], "rust-cargolambda",
                "{name:?}"
            );
            let properties = &resource["Properties"];
            assert_eq!(properties["CodeUri"], "functions/bootstrap", "{name:?}");
            let handler = properties["Handler"].as_str().unwrap();
            assert!(
                handlers.insert(handler.to_owned()),
                "{name:?}: {handler} twice"
            );
        }
    }
    assert_eq!(folders, handlers);
    let served: BTreeSet<String> = bootstrap::Function::ALL
        .iter()
        .map(|function| function.handler().to_owned())
        .collect();
    assert_eq!(served, handlers);
    // cargo lambda names a binary after its package; each package is named after its folder.
    for folder in folders.iter().chain([&"bootstrap".to_owned()]) {
        let manifest = read(&format!("functions/{folder}/Cargo.toml"));
        assert!(
            manifest.contains(&format!("name = \"{folder}\"")),
            "functions/{folder}"
        );
    }
}

/// `sam delete` removes everything: CloudFormation deletes only empty buckets, so every bucket
/// the stack creates is emptied first by the teardown custom resource, whose function may list and
/// delete that bucket's objects and nothing else.
#[test]
fn every_bucket_the_stack_creates_is_emptied_before_it_is_deleted() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let buckets: Vec<String> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::S3::Bucket")
        .map(|(name, _)| name.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(buckets, ["ManifestBucket"]);
    let bucket = &template["Resources"]["ManifestBucket"];
    assert!(
        bucket["DeletionPolicy"].is_null(),
        "the bucket is deleted with the stack"
    );
    // Deleting the current objects is all it takes only while versioning is off.
    assert!(bucket["Properties"]["VersioningConfiguration"].is_null());

    let teardown = &template["Resources"]["EmptyManifestsOnDelete"];
    assert_eq!(teardown["Type"], "Custom::EmptyManifests");
    let properties = &teardown["Properties"];
    assert_eq!(
        written(&properties["ServiceToken"]),
        "!GetAtt EmptyManifestsFunction.Arn"
    );
    // Referring to the bucket makes CloudFormation delete this resource (and so run its Delete)
    // before the bucket.
    assert_eq!(written(&properties["Bucket"]), "!Ref ManifestBucket");
    // Its Create and Update probe that the functions start on the stack's Architecture: a change
    // of the parameter changes the resource, so it probes again; the state machine waits for it.
    assert_eq!(written(&properties["Architecture"]), "!Ref Architecture");
    assert_eq!(
        template["Resources"]["EtlStateMachine"]["DependsOn"],
        "EmptyManifestsOnDelete"
    );

    let function = &template["Resources"]["EmptyManifestsFunction"]["Properties"];
    let variables = &function["Environment"]["Variables"];
    assert_eq!(
        written(&variables[empty_manifests::Probe::FUNCTION_VAR]),
        "!Ref WarehouseFunction"
    );
    assert_eq!(
        written(&variables[empty_manifests::Probe::ARCHITECTURE_VAR]),
        "!Ref Architecture"
    );
    assert_eq!(variables.as_mapping().unwrap().len(), 2);
    assert_eq!(function["Handler"], "empty-manifests");
    let policies = function["Policies"].as_sequence().unwrap();
    assert_eq!(policies.len(), 1, "no warehouse access: {policies:?}");
    // Its grants: the manifests, and invoking the warehouse function once to see it start.
    let mut granted = Vec::new();
    for statement in policies[0]["Statement"].as_sequence().unwrap() {
        assert_eq!(statement["Effect"], "Allow");
        granted.push((
            statement["Action"].as_str().unwrap().to_owned(),
            written(&statement["Resource"]),
        ));
    }
    granted.sort();
    assert_eq!(
        granted,
        [
            (
                "lambda:InvokeFunction".to_owned(),
                "!GetAtt WarehouseFunction.Arn".to_owned()
            ),
            (
                "s3:DeleteObject".to_owned(),
                "!Sub ${ManifestBucket.Arn}/*".to_owned()
            ),
            (
                "s3:ListBucket".to_owned(),
                "!GetAtt ManifestBucket.Arn".to_owned()
            ),
        ]
    );
}

/// A `Deny` grants nothing: the resource policies deny every action over plain HTTP (`s3:*`,
/// `sqs:*`), as the S3 and SQS guides write it, so only `Allow` statements are held to this.
#[test]
fn no_iam_statement_grants_a_wildcard_action() {
    fn walk(value: &Yaml, path: &str) {
        match value {
            Yaml::Mapping(map) => {
                let denies = value["Effect"] == "Deny";
                for (key, child) in map {
                    let key = key.as_str().unwrap_or("?");
                    if key == "Action" && !denies {
                        let actions = match child {
                            Yaml::Sequence(items) => items.clone(),
                            single => vec![single.clone()],
                        };
                        for action in actions {
                            let action = action.as_str().unwrap_or("");
                            assert!(!action.contains('*'), "{path}: action {action}");
                        }
                    }
                    walk(child, &format!("{path}/{key}"));
                }
            }
            Yaml::Sequence(items) => items.iter().for_each(|item| walk(item, path)),
            Yaml::Tagged(tagged) => walk(&tagged.value, path),
            _ => {}
        }
    }
    walk(&template(), "");
}

#[test]
fn the_copy_role_reads_only_the_data_under_its_prefixes_and_the_manifests() {
    let template = template();
    let role = &template["Resources"]["CopyRole"];
    assert_eq!(role["Condition"], "CreateCopyRole");
    let properties = &role["Properties"];
    assert!(
        properties["ManagedPolicyArns"].is_null(),
        "no managed policy widens it"
    );
    let policies = properties["Policies"].as_sequence().unwrap();
    assert_eq!(policies.len(), 1);
    let document = &policies[0]["PolicyDocument"];
    let data_bucket = "!Sub arn:${AWS::Partition}:s3:::${DataBucket}";
    let data = |path: &str| ("s3:GetObject".to_owned(), format!("{data_bucket}/{path}"));
    // COPY asks for LIST on the bucket as well as GET on the objects, the manifest and the
    // JSONPaths file (Redshift Database Developer Guide, "IAM permissions for COPY, UNLOAD, and
    // CREATE LIBRARY": "permission to LIST the Amazon S3 bucket and GET the Amazon S3 objects that
    // are being loaded, and the manifest file, if one is used"; "permission to LIST and GET the
    // JSONPaths file on Amazon S3, if one is used").
    let expected: BTreeSet<(String, String)> = [
        data("${LogPrefix}*"),
        data("${SongPrefix}*"),
        data("${JsonPathsKey}"),
        ("s3:ListBucket".into(), data_bucket.into()),
        (
            "s3:GetObject".into(),
            "!Sub ${ManifestBucket.Arn}/manifests/*".into(),
        ),
        ("s3:ListBucket".into(), "!GetAtt ManifestBucket.Arn".into()),
    ]
    .into_iter()
    .collect();
    assert_eq!(granted(document), expected);
    // Listing is limited to what it reads.
    let expected_listable: BTreeSet<(String, Vec<String>)> = [
        (
            data_bucket.to_owned(),
            [
                "!Sub ${LogPrefix}*",
                "!Sub ${SongPrefix}*",
                "!Ref JsonPathsKey",
            ]
            .map(String::from)
            .to_vec(),
        ),
        (
            "!GetAtt ManifestBucket.Arn".to_owned(),
            vec!["manifests/*".to_owned()],
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(listable(document), expected_listable);
    // The functions name this role to COPY when the stack creates it.
    let copy_role = serde_yaml_ng::to_string(
        &template["Globals"]["Function"]["Environment"]["Variables"]["COPY_ROLE_ARN"],
    )
    .unwrap();
    assert!(copy_role.contains("CopyRole.Arn"), "{copy_role}");
}

#[test]
fn secrets_are_named_only_by_arn_never_held_in_a_parameter_or_variable() {
    let template = template();
    let is_secretish = |name: &str| {
        let lower = name.to_ascii_lowercase();
        ["secret", "password", "token", "credential"]
            .iter()
            .any(|word| lower.contains(word))
    };
    for (name, parameter) in template["Parameters"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        assert!(
            parameter["NoEcho"].is_null(),
            "{name}: a NoEcho parameter means a secret passes through the stack; pass its ARN"
        );
        if is_secretish(name) {
            assert!(name.ends_with("Arn"), "{name}: secrets are passed by ARN");
            let pattern = parameter["AllowedPattern"].as_str().unwrap_or_default();
            // A secret's key is named by its KMS key ARN; anything else secretish is a secret.
            let (kind, service) = if name.ends_with("KmsKeyArn") {
                ("KMS key", ":kms:")
            } else {
                ("Secrets Manager", ":secretsmanager:")
            };
            assert!(
                pattern.starts_with('^') && pattern.ends_with('$') && pattern.contains(service),
                "{name}: its AllowedPattern must admit only a {kind} ARN"
            );
            let default = parameter["Default"].as_str().unwrap_or_default();
            assert_eq!(default, "", "{name}: no default secret");
        }
    }
    let variables = &template["Globals"]["Function"]["Environment"]["Variables"];
    for (name, value) in variables.as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        if is_secretish(name) {
            assert!(
                name.ends_with("_ARN"),
                "{name}: only a secret's ARN may be set"
            );
            assert!(
                matches!(value, Yaml::Tagged(_)),
                "{name}: set from the ARN parameter, never a literal"
            );
        }
    }
    // A resource that takes a password (a namespace's admin, a cluster's master user) must let
    // Secrets Manager manage it instead.
    let text = read("template.yaml");
    for key in ["AdminUserPassword:", "MasterUserPassword:"] {
        assert!(!text.contains(key), "template.yaml sets {key}");
    }
}

fn parse_events<I: DeserializeOwned>(folder: &str) -> Vec<(String, I)> {
    let files = files_under(&format!("events/{folder}"), "json");
    assert!(!files.is_empty(), "events/{folder} is empty");
    files
        .iter()
        .map(|path| {
            let name = relative_to("events", path);
            let json: Value = serde_json::from_str(&fs::read_to_string(path).unwrap())
                .unwrap_or_else(|err| panic!("{name}: {err}"));
            let input = parse_input::<I>(json).unwrap_or_else(|err| panic!("{name}: {err}"));
            (name, input)
        })
        .collect()
}

#[test]
fn every_event_file_parses_into_its_functions_input() {
    let folders: BTreeSet<String> = fs::read_dir(root().join("events"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let known = [
        "copy-staging",
        "create-tables",
        "empty-manifests",
        "load-dimensions",
        "load-facts",
        "triggers",
        "verify-counts",
        "warehouse",
    ];
    assert_eq!(folders, known.iter().map(|f| (*f).to_owned()).collect());

    let source = sparkify::testing::config().source;
    parse_events::<create_tables::Input>("create-tables");
    parse_events::<load_facts::Input>("load-facts");
    parse_events::<load_dimensions::Input>("load-dimensions");
    parse_events::<verify_counts::Input>("verify-counts");
    let lifecycle = parse_events::<warehouse::Input>("warehouse");
    assert!(
        lifecycle
            .iter()
            .any(|(_, i)| matches!(i, warehouse::Input::Wake { .. }))
            && lifecycle
                .iter()
                .any(|(_, i)| matches!(i, warehouse::Input::Sleep { .. }))
    );
    let teardown = parse_events::<empty_manifests::Request>("empty-manifests");
    assert!(
        teardown
            .iter()
            .any(|(_, r)| r.request_type == empty_manifests::RequestType::Delete)
    );
    for (name, input) in parse_events::<copy_staging::Input>("copy-staging") {
        Trigger::from_execution_input(&input.trigger, &source)
            .unwrap_or_else(|err| panic!("{name}: {err}"));
    }
    let triggers = parse_events::<Value>("triggers");
    let kinds: Vec<(String, Trigger)> = triggers
        .into_iter()
        .map(|(name, input)| {
            let trigger = Trigger::from_execution_input(&input, &source)
                .unwrap_or_else(|err| panic!("{name}: {err}"));
            (name, trigger)
        })
        .collect();
    assert!(
        kinds
            .iter()
            .any(|(_, t)| matches!(t, Trigger::NewLogObjects { keys, .. } if keys.len() == 1))
    );
    // A window's input, as the starter writes it (events/triggers/new-files-window.json).
    assert!(
        kinds
            .iter()
            .any(|(_, t)| matches!(t, Trigger::NewLogObjects { keys, .. } if keys.len() > 1))
    );
    assert!(kinds.iter().any(|(_, t)| *t == Trigger::FullLoad));
    assert!(
        kinds
            .iter()
            .any(|(_, t)| matches!(t, Trigger::Backfill { .. }))
    );
}

/// This package's folder, read when the test runs (cargo sets it for every test process): a test
/// binary reused from a build in another checkout keeps that checkout's path in
/// `env!("CARGO_MANIFEST_DIR")`, and would read the other checkout's files.
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR")
            .expect("tests are run by cargo, which sets CARGO_MANIFEST_DIR"),
    )
}

/// A value that may be one item or a list of them (an IAM statement's Action or Resource, a
/// condition's values), each as `written`.
fn listed(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::Sequence(items) => items.iter().map(written).collect(),
        single => vec![written(single)],
    }
}

/// `!Tag value` for a tagged scalar, the text for a plain one, the YAML for anything else.
fn written(value: &Yaml) -> String {
    match value {
        Yaml::Tagged(tagged) => match tagged.value.as_str() {
            Some(text) => format!("{} {text}", tagged.tag),
            None => format!("{} {:?}", tagged.tag, tagged.value),
        },
        other => other
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{other:?}")),
    }
}

#[test]
fn a_created_warehouse_is_serverless_private_with_a_managed_password_and_the_copy_role() {
    let template = template();
    let resources = &template["Resources"];
    let namespace = &resources["Namespace"];
    let workgroup = &resources["Workgroup"];
    for (name, resource, kind) in [
        ("Namespace", namespace, "AWS::RedshiftServerless::Namespace"),
        ("Workgroup", workgroup, "AWS::RedshiftServerless::Workgroup"),
    ] {
        assert_eq!(resource["Type"], kind, "{name}");
        assert_eq!(resource["Condition"], "CreateWarehouse", "{name}");
    }
    // Created only when no warehouse is named.
    let condition = format!("{:?}", template["Conditions"]["CreateWarehouse"]);
    assert!(
        condition.contains("ClusterIdentifier") && condition.contains("WorkgroupArn"),
        "{condition}"
    );
    let properties = &namespace["Properties"];
    assert_eq!(properties["ManageAdminPassword"], Yaml::Bool(true));
    assert!(properties["AdminUserPassword"].is_null());
    let roles = format!("{:?}", properties["IamRoles"]);
    assert!(
        roles.contains("CopyRole.Arn") && roles.contains("CopyRoleArn"),
        "{roles}"
    );
    // Deleting the namespace (sam delete, a replacement) leaves a final snapshot unless the
    // deployer said otherwise, named after the stack's id so a second stack's does not collide.
    let snapshot = written(&properties["FinalSnapshotName"]);
    assert!(
        snapshot.starts_with("!If")
            && snapshot.contains("KeepFinalSnapshot")
            && snapshot.contains("AWS::StackId"),
        "{snapshot}"
    );
    let keep = format!("{:?}", template["Conditions"]["KeepFinalSnapshot"]);
    assert!(
        keep.contains("CreateWarehouse") && keep.contains("FinalSnapshotOnDelete"),
        "{keep}"
    );
    let on_delete = &template["Parameters"]["FinalSnapshotOnDelete"];
    assert_eq!(on_delete["Default"].as_str(), Some("true"));
    let properties = &workgroup["Properties"];
    assert_eq!(properties["PubliclyAccessible"], Yaml::Bool(false));
    // In the deployer's subnets and security groups when given, the default VPC's otherwise.
    for (property, parameter, condition) in [
        ("SubnetIds", "WarehouseSubnetIds", "WarehouseInSubnets"),
        (
            "SecurityGroupIds",
            "WarehouseSecurityGroupIds",
            "WarehouseInSecurityGroups",
        ),
    ] {
        let value = written(&properties[property]);
        assert!(
            value.starts_with("!If")
                && value.contains(condition)
                && value.contains(parameter)
                && value.contains("AWS::NoValue"),
            "{property}: {value}"
        );
        let given = format!("{:?}", template["Conditions"][condition]);
        assert!(given.contains(parameter), "{condition}: {given}");
        assert_eq!(
            template["Parameters"][parameter]["Default"].as_str(),
            Some("")
        );
    }
    assert_eq!(written(&properties["NamespaceName"]), "!Ref Namespace");
    assert_eq!(
        written(&properties["BaseCapacity"]),
        "!Ref WarehouseBaseCapacity"
    );
    // The smallest capacity every region offers, by default.
    let capacity = &template["Parameters"]["WarehouseBaseCapacity"];
    assert_eq!(capacity["Default"].as_u64(), Some(8));
    // The functions reach the created workgroup, and only it.
    let variable = format!(
        "{:?}",
        template["Globals"]["Function"]["Environment"]["Variables"]["REDSHIFT_WORKGROUP"]
    );
    assert!(
        variable.contains("CreateWarehouse")
            && variable.contains("Workgroup.Workgroup.WorkgroupArn"),
        "{variable}"
    );
}

#[test]
fn every_run_that_does_not_succeed_alarms_the_failure_topic_which_alarms_can_decrypt() {
    let template = template();
    let resources = &template["Resources"];
    let alarm = &resources["RunsNotSucceededAlarm"];
    assert_eq!(alarm["Type"], "AWS::CloudWatch::Alarm");
    let properties = &alarm["Properties"];
    let actions: Vec<String> = properties["AlarmActions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(written)
        .collect();
    assert_eq!(actions, ["!Ref FailureTopic"]);
    let metrics = properties["Metrics"].as_sequence().unwrap();
    let watched: BTreeSet<String> = metrics
        .iter()
        .filter_map(|metric| metric["MetricStat"]["Metric"]["MetricName"].as_str())
        .map(str::to_owned)
        .collect();
    assert_eq!(
        watched,
        BTreeSet::from(
            [
                "ExecutionsAborted",
                "ExecutionsFailed",
                "ExecutionsTimedOut"
            ]
            .map(String::from)
        )
    );
    for metric in metrics {
        if metric["MetricStat"].is_null() {
            continue;
        }
        let dimensions = format!("{:?}", metric["MetricStat"]["Metric"]["Dimensions"]);
        assert!(
            dimensions.contains("EtlStateMachine") || dimensions.contains("StartStateMachine"),
            "{dimensions}"
        );
    }
    let summed = metrics
        .iter()
        .find(|metric| metric["ReturnData"] == Yaml::Bool(true))
        .expect("one metric is the alarm's");
    let expression = summed["Expression"].as_str().unwrap();
    for id in ["failed", "timedout", "aborted", "unstarted"] {
        assert!(expression.contains(id), "{expression}");
    }
    assert_eq!(properties["Threshold"].as_u64(), Some(1));
    assert_eq!(properties["TreatMissingData"], "notBreaching");
    // CloudWatch cannot use the AWS managed SNS key: the topic's key must let it in.
    let topic = &resources["FailureTopic"]["Properties"];
    assert_eq!(written(&topic["KmsMasterKeyId"]), "!Ref NotificationKey");
    let key_policy = format!(
        "{:?}",
        resources["NotificationKey"]["Properties"]["KeyPolicy"]
    );
    assert!(
        key_policy.contains("cloudwatch.amazonaws.com"),
        "{key_policy}"
    );
    // The e-mail subscription exists only when an address is given.
    let email = &resources["FailureEmail"];
    assert_eq!(email["Condition"], "SubscribeEmail");
    assert_eq!(email["Properties"]["Protocol"], "email");
}

/// Every (action, resource) an IAM policy document allows; it allows, never denies.
fn granted(document: &Yaml) -> BTreeSet<(String, String)> {
    let mut granted = BTreeSet::new();
    for statement in document["Statement"].as_sequence().unwrap() {
        assert_eq!(statement["Effect"], "Allow", "{statement:?}");
        for action in listed(&statement["Action"]) {
            for resource in listed(&statement["Resource"]) {
                granted.insert((action.clone(), resource));
            }
        }
    }
    granted
}

/// Every bucket an IAM policy document lets be listed, with the key prefixes it may be listed
/// under (its `s3:prefix` condition).
fn listable(document: &Yaml) -> BTreeSet<(String, Vec<String>)> {
    let mut listable = BTreeSet::new();
    for statement in document["Statement"].as_sequence().unwrap() {
        if listed(&statement["Action"]).contains(&"s3:ListBucket".to_owned()) {
            for bucket in listed(&statement["Resource"]) {
                listable.insert((
                    bucket,
                    listed(&statement["Condition"]["StringLike"]["s3:prefix"]),
                ));
            }
        }
    }
    listable
}

/// The functions the ETL state machine runs: its `!GetAtt <function>.Arn` substitutions.
fn etl_functions(template: &Yaml) -> BTreeSet<String> {
    template["Resources"]["EtlStateMachine"]["Properties"]["DefinitionSubstitutions"]
        .as_mapping()
        .unwrap()
        .values()
        .filter_map(|value| {
            written(value)
                .strip_prefix("!GetAtt ")
                .and_then(|target| target.strip_suffix(".Arn"))
                .map(str::to_owned)
        })
        .collect()
}

/// The Data API signs an IAM identity in as a database user of its own (`IAMR:<role name>`;
/// GetClusterCredentialsWithIAM: "The database user is mapped 1:1 to the source Identity and
/// Access Management (IAM) identity"), and a table's owner is the user that created it. With a
/// role per function create-tables would own every table and the other functions would be
/// refused, so the five ETL functions run as one role; the teardown, which never touches the
/// warehouse, does not.
#[test]
fn the_etl_functions_run_as_one_role_with_the_warehouse_access_and_the_teardown_does_not() {
    let template = template();
    let resources = &template["Resources"];
    let mut etl = etl_functions(&template);
    // The warehouse function never reaches the Data API: its role is its own (below).
    assert!(etl.remove("WarehouseFunction"), "{etl:?}");
    assert_eq!(etl.len(), 5, "{etl:?}");
    let globals = &template["Globals"]["Function"];
    assert!(globals["Role"].is_null() && globals["Policies"].is_null());
    let mut run_as_the_role = BTreeSet::new();
    for (name, resource) in resources.as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let properties = &resource["Properties"];
        if resource["Type"] == "AWS::Serverless::Function"
            && written(&properties["Role"]) == "!GetAtt EtlFunctionsRole.Arn"
        {
            assert!(
                properties["Policies"].is_null(),
                "{name}: its permissions are the role's"
            );
            run_as_the_role.insert(name.to_owned());
        }
    }
    assert_eq!(run_as_the_role, etl, "the ETL functions, and only they");
    let teardown = &resources["EmptyManifestsFunction"]["Properties"];
    assert!(
        teardown["Role"].is_null(),
        "the teardown has a role of its own"
    );
    let teardown_policies = format!("{:?}", teardown["Policies"]);
    assert!(
        !teardown_policies.contains("WarehouseAccessPolicy"),
        "{teardown_policies}"
    );

    let role = &resources["EtlFunctionsRole"];
    assert_eq!(role["Type"], "AWS::IAM::Role");
    let properties = &role["Properties"];
    // A generated name keeps CAPABILITY_IAM enough (a named role needs CAPABILITY_NAMED_IAM).
    assert!(properties["RoleName"].is_null());
    let trust = properties["AssumeRolePolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap();
    let [trust] = trust.as_slice() else {
        panic!("one trust statement: {trust:?}")
    };
    assert_eq!(trust["Principal"]["Service"], "lambda.amazonaws.com");
    assert_eq!(trust["Action"], "sts:AssumeRole");
    // The warehouse access, and the logs and traces SAM's own function roles get.
    let managed: BTreeSet<String> = listed(&properties["ManagedPolicyArns"])
        .into_iter()
        .collect();
    let aws_managed = |name: &str| format!("!Sub arn:${{AWS::Partition}}:iam::aws:policy/{name}");
    assert_eq!(
        managed,
        BTreeSet::from([
            "!Ref WarehouseAccessPolicy".to_owned(),
            aws_managed("service-role/AWSLambdaBasicExecutionRole"),
            aws_managed("AWSXRayDaemonWriteAccess"),
        ])
    );
    // What copy-staging needs of S3, and nothing more.
    let policies = properties["Policies"].as_sequence().unwrap();
    let [policy] = policies.as_slice() else {
        panic!("one inline policy: {policies:?}")
    };
    let document = &policy["PolicyDocument"];
    let data_bucket = "!Sub arn:${AWS::Partition}:s3:::${DataBucket}";
    assert_eq!(
        granted(document),
        BTreeSet::from([
            ("s3:ListBucket".to_owned(), data_bucket.to_owned()),
            (
                "s3:GetObject".to_owned(),
                format!("{data_bucket}/${{LogPrefix}}*")
            ),
            (
                "s3:PutObject".to_owned(),
                "!Sub ${ManifestBucket.Arn}/manifests/*".to_owned()
            ),
        ])
    );
    assert_eq!(
        listable(document),
        BTreeSet::from([(
            data_bucket.to_owned(),
            vec![
                "!Sub ${LogPrefix}*".to_owned(),
                "!Sub ${SongPrefix}*".to_owned()
            ]
        )])
    );
}

/// The warehouse function's own role may do exactly this: describe that cluster, pause and resume
/// it (only when the stack pauses it when idle), and keep its marker object "a run resumed it";
/// never the Data API, never another cluster.
#[test]
fn the_warehouse_function_may_describe_pause_and_resume_that_cluster_and_keep_its_marker_only() {
    let template = template();
    let function = &template["Resources"]["WarehouseFunction"]["Properties"];
    assert!(function["Role"].is_null(), "a role of its own");
    let policies = function["Policies"].as_sequence().unwrap();
    let [document] = policies.as_slice() else {
        panic!("one policy document: {policies:?}")
    };
    let mut granted = BTreeSet::new();
    for statement in document["Statement"].as_sequence().unwrap() {
        let (condition, statement) = match statement {
            Yaml::Tagged(tagged) => {
                assert_eq!(tagged.tag.to_string(), "!If", "{statement:?}");
                let branches = tagged.value.as_sequence().unwrap();
                assert_eq!(written(&branches[2]), "!Ref AWS::NoValue");
                (written(&branches[0]), &branches[1])
            }
            plain => ("always".to_owned(), plain),
        };
        assert_eq!(statement["Effect"], "Allow", "{statement:?}");
        for action in listed(&statement["Action"]) {
            for resource in listed(&statement["Resource"]) {
                granted.insert((condition.clone(), action.clone(), resource));
            }
        }
    }
    let cluster = "!Sub arn:${AWS::Partition}:redshift:${AWS::Region}:${AWS::AccountId}:cluster:${ClusterIdentifier}";
    let marker = "!Sub ${ManifestBucket.Arn}/warehouse/*";
    let grant = |condition: &str, action: &str, resource: &str| {
        (condition.to_owned(), action.to_owned(), resource.to_owned())
    };
    assert_eq!(
        granted,
        BTreeSet::from([
            grant("UseCluster", "redshift:DescribeClusters", cluster),
            grant("PauseTheCluster", "redshift:PauseCluster", cluster),
            grant("PauseTheCluster", "redshift:ResumeCluster", cluster),
            grant("always", "s3:ListBucket", "!GetAtt ManifestBucket.Arn"),
            grant("always", "s3:GetObject", marker),
            grant("always", "s3:PutObject", marker),
            grant("always", "s3:DeleteObject", marker),
        ])
    );
    // It may list the marker's prefix only (a HeadObject of a missing key answers 404, not 403).
    assert_eq!(
        written(&document["Statement"][2]["Condition"]["StringLike"]["s3:prefix"]),
        "warehouse/*"
    );
}

/// COPY's REGION names one region for the data, the manifest and the JSONPaths file, and the
/// manifest bucket is created in the stack's region: a deploy anywhere but DataRegion is refused
/// before anything is created, with the fix in the message; `sam deploy` with the defaults
/// deploys where the default data is.
#[test]
fn the_stack_is_deployed_only_in_the_data_region() {
    let template = template();
    let same_region = BTreeSet::from(["!Ref AWS::Region".to_owned(), "!Ref DataRegion".to_owned()]);
    // Among the assertions of the rules that always apply.
    let refusal = template["Rules"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|rule| rule["RuleCondition"].is_null())
        .flat_map(|rule| rule["Assertions"].as_sequence().unwrap())
        .find(|assertion| match &assertion["Assert"] {
            Yaml::Tagged(equals) => {
                equals.tag == "Equals"
                    && listed(&equals.value).into_iter().collect::<BTreeSet<_>>() == same_region
            }
            _ => false,
        })
        .expect("a rule that always asserts AWS::Region equals DataRegion");
    let description = refusal["AssertDescription"].as_str().unwrap();
    for part in [
        "DataRegion",
        "sam deploy --region",
        "udacity-dend",
        "us-west-2",
    ] {
        assert!(description.contains(part), "{description} lacks {part}");
    }
    let parameters = &template["Parameters"];
    assert_eq!(parameters["DataBucket"]["Default"], "udacity-dend");
    let data_region = parameters["DataRegion"]["Default"].as_str().unwrap();
    assert_eq!(data_region, "us-west-2");
    let samconfig = read("samconfig.toml");
    assert!(
        samconfig
            .lines()
            .any(|line| line.trim() == format!("region = \"{data_region}\"")),
        "samconfig.toml deploys to the default DataRegion"
    );
}

/// The base capacities Redshift Serverless takes (Amazon Redshift Management Guide, "Compute
/// capacity for Amazon Redshift Serverless": "You can set this value to 4 RPUs, or in units of 8
/// when 8 RPUs or greater (8,16,24...512)"; "When you set the base capacity between 512-1024,
/// you can increase or decrease RPUs in units of 32"; 4 and above 512 only where offered).
#[test]
fn the_base_capacity_admits_exactly_the_values_redshift_serverless_takes() {
    let template = template();
    let capacity = &template["Parameters"]["WarehouseBaseCapacity"];
    let allowed: Vec<u64> = capacity["AllowedValues"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|value| value.as_u64().expect("a whole number of RPUs"))
        .collect();
    let expected: Vec<u64> = std::iter::once(4)
        .chain((8..=512).step_by(8))
        .chain((512 + 32..=1024).step_by(32))
        .collect();
    assert_eq!(allowed, expected);
    assert!(capacity["MinValue"].is_null() && capacity["MaxValue"].is_null());
    assert!(allowed.contains(&capacity["Default"].as_u64().unwrap()));
}

/// A secret encrypted with a customer managed key is read only with kms:Decrypt on that key:
/// SecretKmsKeyArn names it, and the warehouse access then allows decrypting with that key only,
/// only through Secrets Manager, only when there is a secret.
#[test]
fn a_secrets_customer_managed_key_may_decrypt_it_through_secrets_manager_only() {
    let template = template();
    let parameter = &template["Parameters"]["SecretKmsKeyArn"];
    assert_eq!(parameter["Default"], "");
    let pattern = parameter["AllowedPattern"].as_str().unwrap();
    // An empty value or one key ARN (IAM authorises Decrypt on a key's ARN, not on an alias).
    assert!(
        pattern.starts_with("^(") && pattern.ends_with(")?$") && pattern.contains(":kms:"),
        "{pattern}"
    );
    assert!(pattern.contains(":key/"), "{pattern}");
    let condition = format!("{:?}", template["Conditions"]["UseSecretKmsKey"]);
    for part in ["SecretKmsKeyArn", "UseSecret"] {
        assert!(condition.contains(part), "{condition} lacks {part}");
    }
    let statements = template["Resources"]["WarehouseAccessPolicy"]["Properties"]["PolicyDocument"]
        ["Statement"]
        .as_sequence()
        .unwrap();
    let mut decrypting = Vec::new();
    for statement in statements {
        if format!("{statement:?}").contains("kms:") {
            decrypting.push(statement);
        }
    }
    let [Yaml::Tagged(only_if)] = decrypting.as_slice() else {
        panic!("one statement that uses KMS, under a condition: {decrypting:?}")
    };
    assert!(only_if.tag == "If", "{only_if:?}");
    let [condition, statement, otherwise] = only_if.value.as_sequence().unwrap().as_slice() else {
        panic!("{only_if:?}")
    };
    assert_eq!(*condition, "UseSecretKmsKey");
    assert_eq!(written(otherwise), "!Ref AWS::NoValue");
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Action"], "kms:Decrypt");
    assert_eq!(written(&statement["Resource"]), "!Ref SecretKmsKeyArn");
    assert_eq!(
        written(&statement["Condition"]["StringEquals"]["kms:ViaService"]),
        "!Sub secretsmanager.${AWS::Region}.amazonaws.com"
    );
}

/// The console and `sam deploy --guided` show every parameter in a group of its own kind.
#[test]
fn every_parameter_is_in_exactly_one_parameter_group() {
    let template = template();
    let groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        .as_sequence()
        .unwrap();
    let grouped: Vec<String> = groups
        .iter()
        .flat_map(|group| listed(&group["Parameters"]))
        .collect();
    let unique: BTreeSet<String> = grouped.iter().cloned().collect();
    assert_eq!(unique.len(), grouped.len(), "a parameter is in two groups");
    assert_eq!(unique, mapping_keys(&template["Parameters"]));
}

/// Each trigger can be switched off by a parameter of its own. The new-file rule hears only a
/// bucket whose owner has switched on "Send notifications to Amazon EventBridge"; from the
/// public sample bucket (udacity-dend) no event ever arrives.
#[test]
fn each_trigger_is_on_or_off_as_its_parameter_says() {
    let template = template();
    let events = template["Resources"]["StartStateMachine"]["Properties"]["Events"]
        .as_mapping()
        .unwrap();
    let mut switches = BTreeSet::new();
    let rule = &template["Resources"]["NewLogFileRule"]["Properties"];
    assert_eq!(written(&rule["State"]), "!Ref NewLogFileTrigger");
    switches.insert(("NewLogFileRule".to_owned(), "NewLogFileTrigger".to_owned()));
    let pipe = written(&template["Resources"]["NewFilePipe"]["Properties"]["DesiredState"]);
    assert!(pipe.contains("NewFilesOn"), "{pipe}");
    let on = written(&template["Conditions"]["NewFilesOn"]);
    assert!(
        on.starts_with("!Equals") && on.contains("NewLogFileTrigger") && on.contains("ENABLED"),
        "{on}"
    );
    for (name, event) in events {
        let kind = event["Type"].as_str().unwrap();
        let state = written(&event["Properties"]["State"]);
        let parameter = state
            .strip_prefix("!Ref ")
            .unwrap_or_else(|| panic!("{name:?}: State {state} is no parameter"));
        let switch = &template["Parameters"][parameter];
        assert_eq!(listed(&switch["AllowedValues"]), ["ENABLED", "DISABLED"]);
        assert_eq!(switch["Default"], "ENABLED", "{parameter}");
        switches.insert((kind.to_owned(), parameter.to_owned()));
    }
    assert_eq!(
        switches,
        BTreeSet::from([
            ("NewLogFileRule".to_owned(), "NewLogFileTrigger".to_owned()),
            ("Schedule".to_owned(), "NightlyScheduleState".to_owned()),
        ])
    );
    let description = template["Parameters"]["NewLogFileTrigger"]["Description"]
        .as_str()
        .unwrap();
    for part in [
        "Send notifications to Amazon EventBridge",
        "owner",
        "udacity-dend",
    ] {
        assert!(description.contains(part), "{description} lacks {part}");
    }
}

/// The resource policy of each resource the template attaches one to: the policy documents of
/// its `AWS::S3::BucketPolicy` (`Bucket`), `AWS::SQS::QueuePolicy` (`Queues`) and
/// `AWS::SNS::TopicPolicy` (`Topics`), keyed by the logical id of the resource they name
/// (`!Ref <resource>`).
fn resource_policies(template: &Yaml) -> Vec<(String, String, Yaml)> {
    let mut found = Vec::new();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let targets = match resource["Type"].as_str().unwrap_or_default() {
            "AWS::S3::BucketPolicy" => listed(&resource["Properties"]["Bucket"]),
            "AWS::SQS::QueuePolicy" => listed(&resource["Properties"]["Queues"]),
            "AWS::SNS::TopicPolicy" => listed(&resource["Properties"]["Topics"]),
            _ => continue,
        };
        for target in targets {
            let target = target
                .strip_prefix("!Ref ")
                .unwrap_or_else(|| panic!("{name}: names {target}, not !Ref <resource>"));
            found.push((
                target.to_owned(),
                name.to_owned(),
                resource["Properties"]["PolicyDocument"].clone(),
            ));
        }
    }
    found
}

/// Requests without TLS are refused by every bucket, queue and topic the stack creates: each has
/// a resource policy with a `Deny` for any principal when `aws:SecureTransport` is false, over
/// the resource and (for a bucket) its objects. S3 and SQS are denied every action; SNS is
/// denied Publish, which is what the SNS guide's rule is about ("Enforce encryption of data in
/// transit": the condition "forces message publishers to use HTTPS instead of HTTP").
#[test]
fn every_bucket_queue_and_topic_the_stack_creates_refuses_requests_without_tls() {
    let template = template();
    let kinds = [
        ("AWS::S3::Bucket", "s3:*"),
        ("AWS::SQS::Queue", "sqs:*"),
        ("AWS::SNS::Topic", "sns:Publish"),
    ];
    let policies = resource_policies(&template);
    let mut checked = 0;
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let kind = resource["Type"].as_str().unwrap_or_default();
        let Some((_, action)) = kinds.iter().find(|(k, _)| *k == kind) else {
            continue;
        };
        checked += 1;
        // What the statement's Resource must name: the resource's ARN, and a bucket's objects.
        let own: Vec<String> = match kind {
            "AWS::S3::Bucket" => vec![
                format!("!GetAtt {name}.Arn"),
                format!("!Sub ${{{name}.Arn}}/*"),
            ],
            "AWS::SQS::Queue" => vec![format!("!GetAtt {name}.Arn")],
            _ => vec![format!("!Ref {name}")],
        };
        let denies = policies
            .iter()
            .filter(|(target, _, _)| target == name)
            .flat_map(|(_, _, document)| document["Statement"].as_sequence().unwrap().clone())
            .any(|statement| {
                let secure = &statement["Condition"]["Bool"]["aws:SecureTransport"];
                let principal = &statement["Principal"];
                statement["Effect"] == "Deny"
                    && (*principal == "*" || principal["AWS"] == "*")
                    && (*secure == "false" || *secure == Yaml::Bool(false))
                    && listed(&statement["Action"]).contains(&(*action).to_owned())
                    && own
                        .iter()
                        .all(|arn| listed(&statement["Resource"]).contains(arn))
            });
        assert!(
            denies,
            "{name} ({kind}): no resource policy denies {action} on {own:?} when \
             aws:SecureTransport is false"
        );
    }
    assert!(checked >= 4, "the bucket, the two queues and the topic");
}

/// A topic policy replaces the one SNS gives a new topic (which lets the account's own callers
/// publish), so the failure topic's policy must itself let CloudWatch publish for each alarm that
/// notifies it ("Allow_Publish_Alarms": AWS re:Post, "Why didn't I receive an SNS notification
/// for my CloudWatch alarm trigger?"). The state machine publishes through its own role's policy
/// (SNSPublishMessagePolicy), which within the account needs no grant from the topic.
#[test]
fn the_failure_topics_policy_lets_every_alarm_that_notifies_it_publish() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let alarms: BTreeSet<String> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .filter(|(_, r)| {
            listed(&r["Properties"]["AlarmActions"]).contains(&"!Ref FailureTopic".to_owned())
        })
        .map(|(name, _)| format!("!GetAtt {}.Arn", name.as_str().unwrap()))
        .collect();
    assert!(alarms.len() >= 2, "{alarms:?}");
    let policies = resource_policies(&template);
    let (_, policy, document) = policies
        .iter()
        .find(|(target, _, _)| target == "FailureTopic")
        .expect("the failure topic has a topic policy");
    let mut allowed = BTreeSet::new();
    for statement in document["Statement"].as_sequence().unwrap() {
        if statement["Effect"] == "Allow"
            && listed(&statement["Principal"]["Service"])
                .contains(&"cloudwatch.amazonaws.com".to_owned())
        {
            assert_eq!(listed(&statement["Action"]), ["sns:Publish"], "{policy}");
            assert_eq!(
                listed(&statement["Resource"]),
                ["!Ref FailureTopic"],
                "{policy}"
            );
            assert_eq!(
                written(&statement["Condition"]["StringEquals"]["aws:SourceAccount"]),
                "!Ref AWS::AccountId",
                "{policy}"
            );
            allowed.extend(listed(
                &statement["Condition"]["ArnEquals"]["aws:SourceArn"],
            ));
        }
    }
    assert_eq!(allowed, alarms, "{policy}: the alarms that may publish");
}

/// What a key-prefix parameter admits: one or more non-empty path segments, each ending in `/`,
/// with no `*` or `?` (wildcards where the template matches the prefix: IAM ARNs and
/// `s3:prefix` with StringLike) and no backslash (which copy-staging refuses in a key).
const KEY_PREFIX_PATTERN: &str = "^([^/*?\\\\]+/)+$";

/// The same rule in Rust, to hold the defaults to it.
fn is_key_prefix(value: &str) -> bool {
    value.ends_with('/')
        && value
            .strip_suffix('/')
            .unwrap()
            .split('/')
            .all(|segment| !segment.is_empty() && !segment.contains(['*', '?', '\\']))
}

/// A key prefix is matched as a string: `log_data` also matches `log_data_private/...`, in an
/// IAM ARN (`arn:aws:s3:::bucket/log_data*`), an `s3:prefix` condition, the EventBridge rule's
/// `prefix` filter and the functions' LIST and `starts_with`. So every prefix the template
/// matches ends in `/`: the prefix parameters admit only values that end in one, and every place
/// the template matches a prefix is the parameter as given (`${LogPrefix}*`, `!Ref LogPrefix`)
/// or a literal that ends in `/` (`manifests/*`).
#[test]
fn every_key_prefix_the_template_matches_ends_in_a_slash() {
    assert!(is_key_prefix("log_data/") && is_key_prefix("a/b/"));
    for bad in ["log_data", "", "/", "a//", "log*/", "a\\b/"] {
        assert!(!is_key_prefix(bad), "{bad:?}");
    }
    let template = template();
    let prefixes: Vec<String> = mapping_keys(&template["Parameters"])
        .into_iter()
        .filter(|name| name.ends_with("Prefix"))
        .collect();
    assert_eq!(prefixes, ["LogPrefix", "SongPrefix"]);
    for name in &prefixes {
        let parameter = &template["Parameters"][name.as_str()];
        assert_eq!(
            parameter["AllowedPattern"].as_str(),
            Some(KEY_PREFIX_PATTERN),
            "{name}"
        );
        let default = parameter["Default"].as_str().unwrap_or_default();
        assert!(is_key_prefix(default), "{name}: default {default:?}");
        let description = parameter["Description"].as_str().unwrap_or_default();
        assert!(description.contains("ending in /"), "{name}: {description}");
    }
    // Where the template interpolates a prefix into a pattern (an ARN, an s3:prefix), the match
    // is the prefix and what follows it: `${LogPrefix}*`, never `${LogPrefix}x` or a bare end.
    let text = read("template.yaml");
    for name in &prefixes {
        let placeholder = format!("${{{name}}}");
        let uses: Vec<&str> = text
            .match_indices(&placeholder)
            .map(|(at, _)| &text[at..])
            .collect();
        assert!(!uses.is_empty(), "{name} is never matched");
        for rest in uses {
            let next = rest[placeholder.len()..].chars().next();
            assert_eq!(next, Some('*'), "{name}: {}", rest.lines().next().unwrap());
        }
    }
    // The rule's filter matches the parameter itself.
    let key = &template["Resources"]["NewLogFileRule"]["Properties"]["EventPattern"]["detail"]["object"]
        ["key"];
    assert_eq!(written(&key[0]["prefix"]), "!Ref LogPrefix");
    // Literal prefixes a policy lists under (s3:prefix) end in `/` too.
    fn literal_prefixes(value: &Yaml, out: &mut Vec<String>) {
        match value {
            Yaml::Mapping(map) => {
                for (key, child) in map {
                    if key.as_str() == Some("s3:prefix") {
                        out.extend(listed(child).into_iter().filter(|p| !p.starts_with('!')));
                    }
                    literal_prefixes(child, out);
                }
            }
            Yaml::Sequence(items) => items.iter().for_each(|item| literal_prefixes(item, out)),
            Yaml::Tagged(tagged) => literal_prefixes(&tagged.value, out),
            _ => {}
        }
    }
    let mut literals = Vec::new();
    literal_prefixes(&template["Resources"], &mut literals);
    assert!(!literals.is_empty());
    for literal in literals {
        assert!(literal.ends_with("/*"), "s3:prefix {literal}");
    }
}

/// The roles a service assumes for this stack trust that service only on behalf of this account
/// (`aws:SourceAccount`), and the Pipe's role only for this stack's Pipe (`aws:SourceArn`, its
/// ARN built from its fixed name: EventBridge, "Cross-service confused deputy prevention").
/// Redshift documents no `aws:SourceArn` for the COPY role (it scopes a role to database users
/// with `sts:ExternalId`), and a created namespace's ARN would make a cycle with its IamRoles.
#[test]
fn service_roles_trust_their_service_only_for_this_account_and_the_pipe_role_only_its_pipe() {
    let template = template();
    let resources = &template["Resources"];
    let trust = |role: &str| {
        let statements = resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            .as_sequence()
            .unwrap()
            .clone();
        assert_eq!(statements.len(), 1, "{role}");
        statements[0].clone()
    };
    for role in ["CopyRole", "NewFilePipeRole"] {
        let statement = trust(role);
        assert_eq!(statement["Action"], "sts:AssumeRole", "{role}");
        assert_eq!(
            written(&statement["Condition"]["StringEquals"]["aws:SourceAccount"]),
            "!Ref AWS::AccountId",
            "{role}"
        );
    }
    let pipe_name = written(&resources["NewFilePipe"]["Properties"]["Name"]);
    let name = pipe_name
        .strip_prefix("!Sub ")
        .expect("the pipe's name is fixed");
    let statement = trust("NewFilePipeRole");
    assert_eq!(
        listed(&statement["Principal"]["Service"]),
        ["pipes.amazonaws.com"]
    );
    assert_eq!(
        written(&statement["Condition"]["ArnEquals"]["aws:SourceArn"]),
        format!(
            "!Sub arn:${{AWS::Partition}}:pipes:${{AWS::Region}}:${{AWS::AccountId}}:pipe/{name}"
        )
    );
}

/// COPY's MAXERROR takes at most 100000 ("The MAXERROR default value is 0 and the limit is
/// 100000": Redshift Database Developer Guide, "Data load operations").
#[test]
fn max_load_errors_is_within_copys_maxerror_limit() {
    let template = template();
    let parameter = &template["Parameters"]["MaxLoadErrors"];
    assert_eq!(parameter["Type"], "Number");
    assert_eq!(parameter["MinValue"].as_u64(), Some(0));
    assert_eq!(parameter["MaxValue"].as_u64(), Some(100_000));
}

/// The manifest bucket's lifecycle rule expires copy-staging's objects only (every key it writes
/// is under `manifests/`), never the warehouse function's marker "a run resumed the cluster":
/// expired, a cluster a run woke would never be paused again. A rule without a prefix applies to
/// every object in the bucket (S3 User Guide, lifecycle configuration elements).
#[test]
fn the_manifest_buckets_expiration_spares_the_warehouse_marker() {
    let template = template();
    let rules =
        template["Resources"]["ManifestBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
            .as_sequence()
            .expect("the manifest bucket has lifecycle rules");
    let marker = warehouse::marker_key("sparkify");
    assert!(!marker.starts_with("manifests/"), "{marker}");
    for rule in rules {
        let prefix = rule["Prefix"]
            .as_str()
            .unwrap_or_else(|| panic!("a rule without a Prefix expires everything: {rule:?}"));
        assert_eq!(prefix, "manifests/", "{rule:?}");
        assert!(
            rule["TagFilters"].is_null() && rule["Filter"].is_null(),
            "{rule:?}"
        );
    }
    // copy-staging writes under manifests/ only.
    let mut keys = 0;
    for file in files_under("functions/copy-staging/src", "rs") {
        let text = fs::read_to_string(&file).unwrap();
        for (at, _) in text.match_indices("S3Key::parse(&format!(\"") {
            let literal = &text[at + "S3Key::parse(&format!(\"".len()..];
            // `{folder}`: the round's folder, held to manifests/ below.
            assert!(
                literal.starts_with("manifests/") || literal.starts_with("{folder}"),
                "{file:?}: {literal:.60}"
            );
            keys += 1;
        }
        for line in text
            .lines()
            .filter(|l| l.contains("let folder = format!(\""))
        {
            assert!(line.contains("format!(\"manifests/"), "{file:?}: {line}");
            keys += 1;
        }
    }
    assert!(keys >= 2, "copy-staging's key formats not found");
}

/// The teardown function answers CloudFormation for the stack, so it starts whatever the other
/// functions were built for: its `Architectures` is fixed, never the `Architecture` parameter
/// (SAM replaces the Globals' `Architectures` with a function's own, and `sam build` compiles it
/// for that). A stack deployed with `Architecture=arm64` over x86_64 binaries (`sam deploy
/// --guided` saves the parameter where `sam build` does not read it) then still has its custom
/// resource answered, instead of CloudFormation waiting up to an hour to roll back. Every other
/// function follows the parameter, through the Globals.
#[test]
fn the_teardown_function_is_built_for_a_fixed_architecture_and_the_others_for_the_parameter() {
    let template = template();
    assert_eq!(
        listed(&template["Globals"]["Function"]["Architectures"]),
        ["!Ref Architecture"]
    );
    let teardown = &template["Resources"]["EmptyManifestsFunction"]["Properties"];
    assert_eq!(
        listed(&teardown["Architectures"]),
        ["x86_64"],
        "EmptyManifestsFunction's Architectures is fixed, not !Ref Architecture"
    );
    let allowed = listed(&template["Parameters"]["Architecture"]["AllowedValues"]);
    assert!(allowed.contains(&"x86_64".to_owned()), "{allowed:?}");
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        if resource["Type"] == "AWS::Serverless::Function" && name != "EmptyManifestsFunction" {
            assert!(
                resource["Properties"]["Architectures"].is_null(),
                "{name}: its Architectures come from the parameter (Globals)"
            );
        }
    }
}
