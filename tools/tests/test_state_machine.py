"""The deployable state machine, executed locally (moto's engine -> the local Lambda ->
redshift-local), on the generated sample and on the full shared data set.

Run by `./dev test` (pytest tools/tests). The stand-ins and functions are built first by the
session fixture; each test starts its own stack on free ports and stops it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sparkify_local as local  # noqa: E402

ROOT = local.ROOT
SHARED = local.DATA_SET
FULL_COUNTS = {
    "staging_events": 8056, "staging_songs": 14896, "songplays": 333, "users": 96,
    "songs": 14896, "artists": 9553, "time": 333,
}
SCHEDULED = json.loads((ROOT / "events/triggers/scheduled.json").read_text())
NEW_FILE = json.loads((ROOT / "events/triggers/s3-object-created.json").read_text())


@pytest.fixture
def sample(built, tmp_path):
    """A fresh copy of the generated sample, with its expected counts."""
    expected = local.generate_sample(tmp_path / "sample")
    by_file = json.loads((tmp_path / "sample" / "expected-counts-by-log-file.json").read_text())
    return tmp_path / "sample" / "udacity-dend", expected, by_file


def counts_of(execution: local.Execution) -> dict:
    return {c["table"]: c["rows"] for c in execution.report["counts"]}


def assert_succeeded_with(execution: local.Execution, expected: dict) -> None:
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert counts_of(execution) == expected
    failed = [c for c in execution.report["checks"] if not c["passed"]]
    assert not failed and execution.report["passed"]
    assert len(execution.report["checks"]) == 14


def test_nightly_run_on_the_sample_succeeds_with_its_counts(sample, tmp_path):
    data, expected, _ = sample
    with local.LocalPipeline(data, tmp_path / "logs") as pipeline:
        execution = pipeline.execute(SCHEDULED)
        ports = list(pipeline.ports)
    assert_succeeded_with(execution, expected)
    # Each step in order, entered once: its call follows its batch for up to the statement wait
    # (5 s by default), and the sample's batches commit well inside it, so no Wait is entered.
    # The warehouse (a workgroup) is ready at the first look, and the run is the last out at once.
    assert execution.states_entered("Task") == [
        "ListRunning", "Warehouse", *local.STEPS, "ListRunningAtEnd", "Release"]
    assert execution.states_entered("Wait") == []
    assert execution.notifications == []
    # Everything stopped: nothing listens any more.
    assert not any(local.port_open(p) for p in ports)


def test_the_progress_lines_say_what_each_step_moved_over_all_its_calls_and_rounds(sample, tmp_path):
    data, expected, _ = sample
    lines: list[str] = []
    with local.LocalPipeline(data, tmp_path / "logs") as pipeline:
        execution = pipeline.execute(SCHEDULED, progress=local._progress(lines.append))
    assert_succeeded_with(execution, expected)
    # The sample's song objects take a round and its log objects two (18 a round): the line must
    # count all three.
    assert execution.output["copy_staging"]["round"] == 3
    done = {}
    for line in lines:
        found = re.fullmatch(r" *\d+\.\ds  (\w+) +(.+?)   (\d+\.\d) s", line)
        if found:
            done[found[1]] = found[2]
    assert list(done) == list(local.STEPS), lines
    log_objects = sum(1 for _ in (data / "log_data").rglob("*.json"))
    song_objects = sum(1 for _ in (data / "song_data").rglob("*.json"))
    assert done["CopyStaging"] == (
        f"{expected['staging_events']:,} events from {log_objects:,} log objects, "
        f"{expected['staging_songs']:,} songs from {song_objects:,} song objects"), lines
    assert done["LoadFacts"] == f"{expected['songplays']:,} plays, {expected['time']:,} start times"
    assert done["LoadDimensions"] == f"{expected['users']:,} users"
    assert done["VerifyCounts"] == "7 tables counted, 14 of 14 checks passed, 0 records rejected"
    # Nothing per statement: no list of rows in any line.
    assert not any("rows" in line for line in lines), lines


def test_a_step_says_what_it_moved_once_timed_over_all_its_calls_and_a_running_one_only_what_changed():
    import datetime as dt

    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    staged = [{"what": "events", "count": 4000}, {"what": "log objects", "count": 15},
              {"what": "songs", "count": 300}, {"what": "song objects", "count": 300}]

    # One call of the step: entered, then exited with this copy_staging; the Waits between calls
    # are the gaps.
    def call(entered: float, exited: float, **copy_staging) -> list[dict]:
        return [
            {"type": "TaskStateEntered", "timestamp": start + dt.timedelta(seconds=entered),
             "stateEnteredEventDetails": {"name": "CopyStaging"}},
            {"type": "TaskStateExited", "timestamp": start + dt.timedelta(seconds=exited),
             "stateExitedEventDetails": {"name": "CopyStaging", "output": json.dumps(
                 {"steps": {"copy_staging": copy_staging}})}},
        ]

    history = [
        *call(0, 5, done=False, phase="copy", round=1, staged=[]),
        *call(20, 25, done=False, phase="copy", round=2, staged=staged),
        *call(40, 45, done=False, phase="copy", round=2, staged=staged),
        *call(60, 62.5, done=True, phase="copy", round=2, staged=staged, moved=staged),
    ]
    lines: list[str] = []
    show = local._progress(lines.append)
    for event in history:
        show(event, time.monotonic())
    assert [re.sub(r"^ *\d+\.\ds  ", "", line) for line in lines] == [
        "CopyStaging      round 1 staging",
        "CopyStaging      round 2 staging, staged so far: 4,000 events from 15 log objects, "
        "300 songs from 300 song objects",
        "CopyStaging      4,000 events from 15 log objects, 300 songs from 300 song objects   62.5 s",
    ]


SECRET = "arn:aws:secretsmanager:us-west-2:123456789012:secret:sparkify-loader-AbCdEf"
SIGN_INS = {
    # The default deploy: a workgroup the functions sign in to with their one IAM role.
    "workgroup-iam": ("workgroup", {}, []),
    "workgroup-secret": ("workgroup", {"REDSHIFT_SECRET_ARN": SECRET}, ["--secret", f"{SECRET}=loader"]),
    "cluster-db-user": ("cluster", {}, []),
    "cluster-secret": ("cluster", {"REDSHIFT_DB_USER": "", "REDSHIFT_SECRET_ARN": SECRET},
                       ["--secret", f"{SECRET}=loader"]),
}


@pytest.mark.parametrize("sign_in", sorted(SIGN_INS))
def test_every_sign_in_runs_every_step_and_verify_counts_sees_the_runs_load_errors(sign_in, sample, tmp_path):
    # One database user per deploy, whichever way it signs in: it owns the tables every step
    # writes, and the load errors of its COPYs are its own to read in SYS_LOAD_ERROR_DETAIL.
    data, _, _ = sample
    bad = data / "log_data/2018/12/2018-12-02-events.json"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text('{"ts": 1, broken\n{"ts": 2, broken\n')
    target, env, stand_in = SIGN_INS[sign_in]
    with local.LocalPipeline(data, tmp_path / "logs", target=target, function_env=env,
                             stand_in_args=stand_in) as pipeline:
        execution = pipeline.execute(SCHEDULED)
        owners = {row[0] for row in pipeline.query(
            "SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")}
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.report["passed"]
    rejected = [r for r in execution.report["rejects"] if r["file"].endswith("2018-12-02-events.json")]
    assert [r["line"] for r in rejected] == [1, 2]
    assert owners == {{"workgroup-iam": "IAMR:EtlFunctionsRole", "cluster-db-user": "etl"}.get(sign_in, "loader")}


def test_the_local_functions_sign_in_as_the_one_role_the_template_gives_them():
    assert local.function_identity() == "role:EtlFunctionsRole"
    # A role per function (SAM's default) would be a database user per function: refused here,
    # as redshift-local refuses one role's INSERT into another's table (tests/strict.rs).
    template = (ROOT / "template.yaml").read_text()
    per_function = template.replace("Role: !GetAtt EtlFunctionsRole.Arn", "Role: !GetAtt CreateTablesRole.Arn", 1)
    with pytest.raises(local.RunError, match="different roles"):
        local.function_identity(per_function)


def table_of(printed: str, name: str) -> list[dict]:
    """The rows of one table sparkify-analytics printed, as dicts by column."""
    block = printed.split(f"{name}: ", 1)[1].split("\n\n", 1)[0].splitlines()
    header, rows = block[1].split(), block[3:-1]
    assert re.fullmatch(r"  \(\d+ rows?\)", block[-1]), block[-1]
    return [dict(zip(header, re.split(r"\s{2,}", row.strip()))) for row in rows]


def test_the_analytics_queries_run_through_the_data_api_and_agree_with_the_counts(sample, tmp_path):
    data, expected, _ = sample
    with local.LocalPipeline(data, tmp_path / "logs") as pipeline:
        assert_succeeded_with(pipeline.execute(SCHEDULED), expected)
        printed = pipeline.analytics()
        only = pipeline.analytics("plays_by_hour")
        with pytest.raises(local.RunError, match="UnknownQuery"):
            pipeline.analytics("no_such_query")
    plays = expected["songplays"]
    by_level = table_of(printed, "free_vs_paid")
    assert {row["level"] for row in by_level} <= {"free", "paid", "NULL"}
    assert sum(int(row["plays"]) for row in by_level) == plays
    assert sum(int(row["listeners"]) for row in by_level) >= 1
    by_hour = table_of(printed, "plays_by_hour")
    assert sum(int(row["plays"]) for row in by_hour) == plays
    assert all(0 <= int(row["hour"]) <= 23 for row in by_hour)
    top = table_of(printed, "most_played_songs")
    assert 1 <= len(top) <= 10
    counts = [int(row["plays"]) for row in top]
    assert counts == sorted(counts, reverse=True) and sum(counts) <= plays
    assert only.startswith("plays_by_hour: ") and table_of(only, "plays_by_hour") == by_hour


def test_function_logs_are_json_with_the_request_and_statement_ids(sample, tmp_path):
    # What Lambda sets when the template's LoggingConfig says LogFormat: JSON.
    data, expected, _ = sample
    logs = tmp_path / "logs"
    json_logs = {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"}
    with local.LocalPipeline(data, logs, function_env=json_logs) as pipeline:
        execution = pipeline.execute(SCHEDULED)
        assert_succeeded_with(execution, expected)
        statements = {s["Id"] for s in pipeline.statements()}
    # Every line a function writes is a JSON object.
    lines = [json.loads(line) for line in (logs / "functions.log").read_text().splitlines()]
    in_calls = [line for line in lines if "span" in line]
    assert len(in_calls) >= 10, len(in_calls)
    for line in in_calls:
        assert re.fullmatch(r"[0-9a-f-]{36}", line["span"]["requestId"]), line
    about_statements = [line["fields"] for line in in_calls if "statement_id" in line["fields"]]
    # On a new warehouse create-tables' guard finds no tables, and its creating batch goes instead.
    steps = {fields["step"].removesuffix("-creating") for fields in about_statements}
    assert steps == set(local.FUNCTIONS)
    assert {fields["statement_id"] for fields in about_statements} <= statements
    assert len({line["span"]["requestId"] for line in in_calls}) >= len(local.FUNCTIONS)
    # Among them, the run's metrics in the embedded metric format, as CloudWatch would extract
    # them, whose figures are the run's (crates/sparkify/src/metrics.rs).
    # Four documents: copy-staging's (what it staged, objects quarantined, not found, the newest
    # log object's age), load-facts' (the plays and start times it wrote), load-dimensions' (the
    # users rows) and verify-counts'.
    documents = local.emitted_metrics(logs / "functions.log")
    assert len(documents) == 4, documents
    assert {d["namespace"] for d in documents} == {"SparkifyETL"}
    assert all(d["dimensions"] == {"Pipeline": "sparkify-local"} for d in documents)
    values = {name: value for d in documents for name, (value, _) in d["values"].items()}
    assert values["PlaysWritten"] == expected["songplays"]
    # Every figure a step moved is its metric (crates/sparkify/src/metrics.rs, Name::moved).
    metric_of = {"events": "EventsStaged", "log objects": "LogObjectsLoaded",
                 "songs": "SongsStaged", "song objects": "SongObjectsLoaded",
                 "plays": "PlaysWritten", "start times": "StartTimesWritten",
                 "users": "UsersWritten"}
    moved = [figure for step in ("copy_staging", "load_facts", "load_dimensions")
             for figure in execution.output[step]["moved"]]
    assert {figure["what"] for figure in moved} == set(metric_of)
    assert all(values[metric_of[f["what"]]] == f["count"] for f in moved), (moved, values)
    assert (values["QuarantinedObjects"], values["MissingObjects"]) == (0, 0)
    report = execution.report
    assert report["newest_play"] is not None and values["NewestPlayAgeHours"] > 0
    assert 0 <= values["RunSeconds"] <= execution.seconds + 1
    assert {t: values[f"{t.capitalize()}Rows"] for t in ("songplays", "users", "songs", "artists", "time")} \
        == {t: expected[t] for t in ("songplays", "users", "songs", "artists", "time")}
    assert (values["RejectedRecords"], values["WaitingPlays"], values["RefusedSongs"],
            values["FailedChecks"]) == (report["rejected_rows"], report["waiting_plays"],
                                        report["refused_songs"], 0)
    # The run's seconds by step add up to its seconds, and each is the time from the end of the
    # step before it (the first: the run's start, `$$.Execution.StartTime`, the execution's
    # startDate) to its own end: the end the call that found its work committed stamped, which
    # lies within that step's Task states in the history (the engine records the exit a moment
    # after the call returns; how long a moment depends on what else the machine does).
    steps = ["CreateTables", "CopyStaging", "LoadFacts", "LoadDimensions", "VerifyCounts"]
    seconds = [values[f"{step}Seconds"] for step in steps]
    assert all(s >= 0 for s in seconds) and abs(sum(seconds) - values["RunSeconds"]) < 0.01
    entered, exited = {}, {}
    for e in execution.history:
        if e["type"] == "TaskStateEntered":
            entered.setdefault(e["stateEnteredEventDetails"]["name"], e["timestamp"])
        elif e["type"] == "TaskStateExited":
            exited[e["stateExitedEventDetails"]["name"]] = e["timestamp"]
    since_start = lambda at: (at - execution.started).total_seconds()  # noqa: E731
    ends = list(itertools.accumulate(seconds))
    # Milliseconds in the metrics, microseconds in the history.
    within = [(round(since_start(entered[step]) - 0.001, 3), round(end, 3),
               round(since_start(exited[step]) + 0.001, 3)) for step, end in zip(steps, ends)]
    assert all(low <= end <= high for low, end, high in within), list(zip(steps, within))
    # The newest log object's age: from its LastModified (the stand-in's: the file's time) to
    # the end of copy-staging (its finished_at).
    newest = max(path.stat().st_mtime for path in (data / "log_data").rglob("*.json"))
    copied = dt.datetime.fromisoformat(execution.output["copy_staging"]["finished_at"])
    assert abs(values["NewestLogObjectAgeHours"] * 3600 - (copied.timestamp() - newest)) < 1.5


@pytest.mark.parametrize("broken, why", [
    ({"_aws": {"Timestamp": "now"}}, "Timestamp"),
    ({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "", "Dimensions": [],
                                                       "Metrics": []}]}}, "Namespace"),
    ({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N", "Dimensions": [["P"]],
                                                       "Metrics": []}]}}, "dimension P"),
    ({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N", "Dimensions": [],
                                                       "Metrics": [{"Name": "M", "Unit": "Hours"}]}]},
      "M": 1}, "unit"),
    ({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N", "Dimensions": [],
                                                       "Metrics": [{"Name": "M", "Unit": "Count"}]}]},
      "M": "1"}, "number"),
])
def test_the_metrics_reader_refuses_what_cloudwatch_would_not_extract(broken, why):
    with pytest.raises(local.EmfError, match=why):
        local.emf_metrics(json.dumps(broken))
    assert local.emf_metrics('{"level": "INFO"}') is None
    assert local.emf_metrics("not json") is None


def test_full_data_set_gives_the_measured_counts_whatever_arrives_first(built, tmp_path):
    """The real data set as a growing catalogue gets it: half the log files land before any song
    file, in one window; then the song files and the rest, for the night. Every play of the first
    half waits for its song, and the warehouse ends with the measured counts (333 plays), as one
    load of the whole bucket does."""
    assert SHARED.is_dir(), f"the Sparkify data set is missing at {SHARED} (required, not optional)"
    served = tmp_path / "served" / "udacity-dend"
    (served / "log_data" / "2018" / "11").mkdir(parents=True)
    os.symlink(SHARED / "log_json_path.json", served / "log_json_path.json")
    logs = sorted(str(p.relative_to(SHARED)) for p in (SHARED / "log_data").rglob("*.json"))
    first, rest = logs[:15], logs[15:]
    for key in first:
        os.symlink(SHARED / key, served / key)
    with local.LocalPipeline(served, tmp_path / "logs") as pipeline:
        window = pipeline.load_new_files(*first)
        assert window.status == "SUCCEEDED", (window.error, window.cause)
        assert counts_of(window)["songplays"] == 0
        waiting = window.report["waiting_plays"]
        assert waiting > 0
        os.symlink(SHARED / "song_data", served / "song_data")
        for key in rest:
            os.symlink(SHARED / key, served / key)
        night = pipeline.execute(SCHEDULED)
    assert night.status == "SUCCEEDED", (night.error, night.cause)
    counts = counts_of(night)
    assert counts["staging_events"] + counts_of(window)["staging_events"] == 8056
    assert {**counts, "staging_events": 8056} == FULL_COUNTS
    # Of the 6,820 NextSong events, 333 match a song: the rest wait, in no star table.
    assert night.report["waiting_plays"] == 6820 - 333 - duplicate_plays(SHARED)
    assert night.report["passed"]


def duplicate_plays(data: Path) -> int:
    """NextSong events whose natural key (session, item, user) another event of the bucket has."""
    keys = [(e["sessionId"], e["itemInSession"], e["userId"])
            for path in (data / "log_data").rglob("*.json")
            for e in map(json.loads, path.read_text().splitlines()) if e["page"] == "NextSong"]
    return len(keys) - len(set(keys))


def test_new_log_file_event_loads_just_that_file(sample, tmp_path):
    """The file lands on a warehouse the nightly run loaded without it: its run loads that object
    and nothing else (one HEAD, no LIST, no song), and the warehouse ends where one nightly load of
    the whole bucket does."""
    data, expected, by_file = sample
    key = NEW_FILE["detail"]["object"]["key"]
    aside = tmp_path / "aside.json"
    (data / key).rename(aside)
    with local.LocalPipeline(data, tmp_path / "logs") as pipeline:
        assert pipeline.execute(SCHEDULED).status == "SUCCEEDED"
        aside.rename(data / key)
        execution = pipeline.execute(NEW_FILE)
        warehouse = pipeline.counts()
    assert execution.name.startswith("new-file-")
    # Its report counts the tables it writes, not the catalogue it leaves as it was; the warehouse
    # holds what one nightly load of the whole bucket builds.
    written = {"staging_events": by_file[key]["staging_events"],
               **{t: expected[t] for t in ("songplays", "users", "time")}}
    assert_succeeded_with(execution, written)
    assert execution.report["refused_songs"] is None
    star = ("songplays", "users", "songs", "artists", "time", "staging_songs")
    assert {t: warehouse[t] for t in star} == {t: expected[t] for t in star}
    assert by_file[key]["staging_events"] == len((data / key).read_text().splitlines())
    assert execution.requests["s3"].get("LIST", 0) == 0, execution.requests
    assert execution.requests["s3_by"]["callers"]["HEAD"] == 1, execution.requests
    assert execution.output["copy_staging"]["staged"][-1] == {"what": "song objects", "count": 0}


def test_a_trigger_starts_one_run_named_after_its_event_however_often_it_is_delivered(
        sample, tmp_path):
    data, expected, _ = sample
    with local.LocalPipeline(data, tmp_path / "logs") as pipeline:
        def etl_runs() -> list[str]:
            listed = pipeline.sfn.list_executions(stateMachineArn=pipeline.state_machine_arn)
            return sorted(e["name"] for e in listed["executions"])

        event = local.new_event(SCHEDULED)
        # The run is held at its first function call, so the second delivery meets it running.
        release = threading.Event()
        pipeline.before_calls(lambda function, payload: not release.wait(60))
        first = pipeline.deliver(event)
        second = pipeline.deliver(event)
        release.set()
        pipeline.before_calls(None)
        assert first.status == "SUCCEEDED", (first.error, first.cause)
        arn = first.output["etl_execution"]
        # Step Functions answers the same name and input of a running execution with it.
        assert second.status == "SUCCEEDED" and second.output == {"etl_execution": arn}
        run = pipeline.wait(arn)
        assert_succeeded_with(run, expected)
        assert run.name == f"nightly-{event['time'].replace(':', '')}-{event['id']}"
        assert re.fullmatch(r"nightly-\d{4}-\d\d-\d\dT\d{6}Z-[0-9a-f-]{36}", run.name)

        # Delivered again after the run ended: refused as existing, which is the starter's success.
        late = pipeline.deliver(event)
        assert late.status == "SUCCEEDED", (late.error, late.cause)
        assert late.states_entered("Succeed") == ["AlreadyStarted"]
        assert late.output["Error"] == "Sfn.ExecutionAlreadyExistsException"
        assert arn in late.output["Cause"]
        assert etl_runs() == [run.name]

        # A new log file: its own kind, its own run; names fit Step Functions' 80 characters.
        new_file = local.new_event(NEW_FILE)
        started = pipeline.deliver(new_file)
        file_run = pipeline.wait(started.output["etl_execution"])
        assert file_run.status == "SUCCEEDED", (file_run.error, file_run.cause)
        assert file_run.name == f"new-file-{new_file['time'].replace(':', '')}-{new_file['id']}"
        assert max(len(name) for name in etl_runs()) <= 80

        # Anything else is not a trigger: the starter fails by name and starts nothing.
        stray = pipeline.deliver({**local.new_event(SCHEDULED), "detail-type": "Object Deleted"})
        assert (stray.status, stray.error) == ("FAILED", "UnknownTrigger")
        assert etl_runs() == sorted([run.name, file_run.name])


def test_file_beyond_maxerror_is_quarantined_and_the_run_fails_by_name_with_tables_as_they_were(
    sample, tmp_path
):
    data, expected, _ = sample
    with local.LocalPipeline(data, tmp_path / "logs") as pipeline:
        first = pipeline.execute(SCHEDULED)
        assert_succeeded_with(first, expected)
        before = pipeline.counts()
        # Eleven malformed lines: one more than MAX_LOAD_ERRORS (10).
        key = "log_data/2018/12/2018-12-01-events.json"
        bad = data / key
        bad.parent.mkdir(parents=True)
        bad.write_text("\n".join(f'{{"ts": {i}, "userId": "1", broken' for i in range(11)))
        failed = pipeline.execute(SCHEDULED)
        after = pipeline.counts()
        errors = pipeline.query(
            "SELECT filename, line_number, err_reason FROM stl_load_errors ORDER BY line_number"
        )
        held = pipeline.query("SELECT object_key, runs FROM load_quarantine")
    assert failed.status == "FAILED"
    assert failed.error == "ObjectsQuarantined"
    assert key in failed.cause and "MAXERROR 10" in failed.cause
    # The rest of the run went on: every step ran, then the run ended with the quarantine.
    assert failed.states_entered("Pass")[-1] == "DescribeQuarantine"
    assert failed.states_entered("Task")[-1] == "NotifyFailure"
    assert {"LoadFacts", "LoadDimensions", "VerifyCounts"} <= set(failed.states_entered("Task"))
    [notification] = failed.notifications
    assert notification["subject"] == "Sparkify ETL run failed"
    message = notification["message"]
    assert message["error"] == "ObjectsQuarantined"
    assert message["execution"] == failed.arn
    # The trigger as the run got it: the schedule's event (with the id and time of its delivery).
    assert message["trigger"] == failed.input
    assert {**message["trigger"], "id": SCHEDULED["id"], "time": SCHEDULED["time"]} == SCHEDULED
    assert [q["key"] for q in message["quarantined"]] == [key]
    assert "sys_load_error_detail" in message["quarantined"][0]["error"]
    # Its round rolled back whole: staging and the star schema are what the good run left.
    assert after == before
    assert held == [[key, 1]]
    # Alone in its round already, it was not tried a second time.
    assert len(errors) == 11 and all("2018-12-01-events.json" in e[0] for e in errors)


def test_slow_statements_go_round_the_wait_loop_and_are_submitted_once(sample, tmp_path):
    data, expected, _ = sample
    # Every statement runs 2 s, and a call follows it for 1 s only, counted from before it
    # submits: each step's statement outlasts its first call, last DescribeStatement included,
    # by 1 s (a stall that long on a busy machine would let a call see it end), so it is found
    # committed after a Wait.
    slow = {"min_statement_ms": 2000, "function_env": {"STATEMENT_WAIT_SECONDS": "1"}}
    with local.LocalPipeline(data, tmp_path / "logs", **slow) as pipeline:
        execution = pipeline.execute(SCHEDULED)
        statements = pipeline.statements()
    assert_succeeded_with(execution, expected)
    waits = Counter(execution.states_entered("Wait"))
    tasks = Counter(execution.states_entered("Task"))
    for state in local.STEPS:
        assert waits[f"{state}Wait"] >= 1, waits
        assert tasks[state] == waits[f"{state}Wait"] + 1
    # One batch per step, however often each step was polled (verify-counts' own result reads
    # are separate statements); copy-staging records its listing once, then plans and stages
    # its 300 song objects in a round, and its 30 log objects in two rounds of at most 18.
    batches = Counter(s["StatementName"] for s in statements if s.get("IsBatchStatement"))
    want = Counter({f"sparkify-{step}": 1 for step in local.FUNCTIONS})
    # A new warehouse: create-tables' guard finds no tables, so the batch that creates them goes
    # too (sql/create/tables_exist.sql).
    want.update({"sparkify-copy-staging": 2, "sparkify-copy-staging-plan": 3,
                 "sparkify-copy-staging-listing": 1, "sparkify-create-tables-creating": 1})
    assert batches == want, batches


def test_the_command_stops_everything_on_ctrl_c(built, tmp_path):
    logs = tmp_path / "logs"
    # Its own copy of the sample (the default, .local/sample, is another test's too).
    local.generate_sample(tmp_path / "sample")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "sparkify_local.py"), "--no-build",
         "--data", str(tmp_path / "sample" / "udacity-dend"), "--logs", str(logs)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "CreateTables" in line:  # the first state has run: everything is up
            break
    else:
        pytest.fail("".join(lines))
    children = _descendants(proc.pid)
    assert children, "the run started no processes"
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, "".join(lines) + rest
    deadline = time.monotonic() + 10
    while [p for p in children if _alive(p)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in children if _alive(p)], "processes left behind"


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,sid="], capture_output=True, text=True).stdout
    table = [tuple(map(int, l.split())) for l in out.splitlines() if l.strip()]
    found, frontier = set(), {pid}
    while frontier:
        children = {p for p, pp, _ in table if pp in frontier} - found
        found |= children
        frontier = children
    # The stand-ins run in sessions of their own; their members are descendants too.
    sessions = {s for p, _, s in table if p in found}
    found |= {p for p, _, s in table if s in sessions}
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return state != "Z"
