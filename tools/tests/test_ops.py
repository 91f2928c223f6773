"""The runbook's commands (tools/ops.py: `./dev status`, `./dev runs`, `./dev quarantine`,
`./dev backfill`) against the local pipeline, as an operator runs them: through the AWS SDK over
HTTP to moto's server (CloudFormation, Step Functions) and redshift-local (the Data API, S3),
signed in as the local operator, who has only the operators' database role.

Their figures are held to what the pipeline itself recorded: the executions' own outputs and the
warehouse's tables read by its admin."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import ops  # noqa: E402
import sparkify_local as local  # noqa: E402
from helpers import SCHEDULED, succeeded  # noqa: E402
from test_quarantine import good_lines  # noqa: E402

POISON = "log_data/2018/11/2018-11-15-late-upload.json"
SECOND = "log_data/2018/11/2018-11-16-late-upload.json"


def poisoned(sample: Path, key: str) -> None:
    """50 good lines and 20 that are not JSON: 20 rejects reach MAXERROR 10, so the object is
    quarantined."""
    (sample / key).write_text("\n".join(good_lines(sample, 50) + ["<html>not json</html>"] * 20) + "\n")


class Operator:
    """`./dev <command> --local` against one served pipeline, in this process."""

    def __init__(self, served: Path):
        self.served = served

    def __call__(self, *argv: str) -> tuple[int, str]:
        lines: list[str] = []
        code = ops.main([*argv, "--local", "--served", str(self.served)], out=lines.append)
        return code, "\n".join(lines)

    def json(self, *argv: str):
        code, printed = self(*argv, "--json")
        assert code == 0, printed
        return json.loads(printed)


def test_status_runs_and_the_quarantine_commands_show_and_change_what_the_pipeline_recorded(
        sample, tmp_path, capsys):
    poisoned(sample, POISON)
    poisoned(sample, SECOND)
    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        night = pipeline.execute(SCHEDULED)
        assert night.error == "ObjectsQuarantined", night.cause
        pipeline.serve(tmp_path / "pipeline.json")
        operator = Operator(tmp_path / "pipeline.json")

        status = operator.json("status")
        [run] = status["runs"]
        assert (run["name"], run["trigger"], run["status"], run["error"]) == (
            night.name, "nightly", "FAILED", "ObjectsQuarantined")
        # Rows moved are the steps' own figures: the plays are every songplay (the first load).
        counts = pipeline.counts()
        assert run["moved"].get("plays") == counts["songplays"] > 0
        assert run["moved"]["log objects"] == 30 and run["moved"]["song objects"] == 300
        ledger = pipeline.ledger()
        by_kind = {row["kind"]: row for row in status["ledger"]}
        for kind in ("events", "songs"):
            assert by_kind[kind]["objects"] == sum(1 for o in ledger.values() if o["kind"] == kind)
        assert by_kind["events"]["rows_loaded"] == sum(
            o["rows_loaded"] for o in ledger.values() if o["kind"] == "events")
        [[newest]] = pipeline.query("SELECT MAX(start_time) FROM songplays")
        assert status["freshness"]["newest_play"] == str(newest)
        assert status["freshness"]["last_loaded_age_hours"] < 1
        assert {row["object_key"] for row in status["quarantine"]} == {POISON, SECOND}
        assert all("MAXERROR" in row["reason"] and row["error"] for row in status["quarantine"])
        assert status["listed_not_loaded"] == []
        code, text = operator("status")
        assert code == 0 and "quarantined objects: 2" in text and POISON in text, text
        # The whole event store's waiting plays (the failed night has no report to compare).
        waiting_before = status["waiting_plays"]
        assert waiting_before["count"] > 0

        # Retried as it is, the object fails again: the run says so, and the retry's run
        # quarantined it anew (its old row was deleted); the other object was left alone.
        code, text = operator("quarantine", "retry", POISON)
        assert code == 1 and f"{POISON} is quarantined again" in text, text
        rows = {row["object_key"]: row for row in operator.json("quarantine", "list")}
        assert rows[POISON]["last_run"].startswith("retry-") and rows[POISON]["runs"] == 1
        assert rows[SECOND]["last_run"] == night.name
        # Fixed in place and retried, it loads, in the run the command started: the run its
        # new-file event would start, which loads it alone and lists nothing.
        (sample / POISON).write_text("\n".join(good_lines(sample, 50)) + "\n")
        before = pipeline.requests()
        code, text = operator("quarantine", "retry", POISON)
        assert code == 0 and f"{POISON}: loaded" in text, text
        asked = local.requests_between(before, pipeline.requests())
        assert asked["s3"].get("LIST", 0) == 0, asked
        retried = operator.json("runs", "--last", "1")[0]
        assert retried["name"].startswith("retry-") and retried["status"] == "SUCCEEDED"
        assert retried["trigger"] == "new files" and retried["moved"]["log objects"] == 1
        assert pipeline.ledger()[POISON]["run_id"] == retried["name"]
        retry_run = local.Execution(
            name=retried["name"], arn="", status="SUCCEEDED", error=None, cause=None, history=[],
            output=json.loads(pipeline.sfn.describe_execution(
                executionArn=night.arn.rsplit(":", 1)[0] + ":" + retried["name"])["output"]))
        succeeded(retry_run)
        # The retry is a run of new files: its report counts the plays of its own lines that wait
        # (new plays, in sessions of their own), which the event store's count gained.
        waiting = operator.json("status")["waiting_plays"]
        assert retry_run.report["waiting_among"] == "run"
        assert waiting["count"] == waiting_before["count"] + retry_run.report["waiting_plays"]
        assert retry_run.report["waiting_plays"] > 0
        assert waiting["oldest"] == min(waiting_before["oldest"], retry_run.report["oldest_waiting"])

        # Released once gone from the bucket: the row goes, and nothing will load it.
        (sample / SECOND).unlink()
        code, text = operator("quarantine", "release", SECOND)
        assert code == 0 and "it is gone from" in text, text
        assert operator.json("quarantine", "list") == []
        code, _ = operator("quarantine", "release", SECOND)
        assert code == 1 and f"{SECOND} is not quarantined" in capsys.readouterr().err

        failed = operator.json("runs", "--failed")
        assert [r["name"] for r in failed][1:] == [night.name] and len(failed) == 2
        assert all(r["error"] == "ObjectsQuarantined" for r in failed)
        assert len(operator.json("runs")) == 3


def test_backfill_starts_the_days_and_follows_the_run_and_its_continuations(sample, tmp_path, capsys):
    with local.LocalPipeline(sample, tmp_path / "logs",
                             function_env={"LOAD_BUDGET_SECONDS": "0"}) as pipeline:
        night = pipeline.execute(SCHEDULED)
        for run in [night, *pipeline.continuations(night)]:
            succeeded(run)
        before = pipeline.ledger()
        pipeline.serve(tmp_path / "pipeline.json")
        operator = Operator(tmp_path / "pipeline.json")
        machine = dict(stateMachineArn=pipeline.state_machine_arn)
        started = len(pipeline.sfn.list_executions(**machine)["executions"])

        for first, last in (("2018-11-05", "2018-11-04"), ("2018-11-30", "2018-11-31")):
            code, _ = operator("backfill", first, last)
            assert code == 1
        err = capsys.readouterr().err
        assert "is after its last" in err and "not a day on the calendar" in err
        assert len(pipeline.sfn.list_executions(**machine)["executions"]) == started

        # The whole month is two rounds: with no load budget, the run hands the second to a
        # continuation, which the command follows too.
        code, text = operator("backfill", "2018-11-01", "2018-11-30")
        assert code == 0, text
        runs = operator.json("runs", "--last", "2")
        assert runs[1]["name"].startswith("backfill-2018-11-01-2018-11-30-")
        assert runs[1]["trigger"] == "backfill 2018-11-01..2018-11-30"
        assert runs[0]["trigger"] == "continuation"
        assert all(r["status"] == "SUCCEEDED" for r in runs)
        assert f"passed: {runs[1]['name']}, {runs[0]['name']}" in text
        assert "CopyStaging" in text
        after = pipeline.ledger()
        assert sorted(after) == sorted(before)
        assert {o["run_id"] for k, o in after.items() if o["kind"] == "events"} == {
            r["name"] for r in runs}
        assert all(after[k] == before[k] for k in after if after[k]["kind"] == "songs")


def test_dev_run_keep_serves_the_local_pipeline_to_the_commands_until_ctrl_c(sample, tmp_path):
    served = tmp_path / "pipeline.json"
    dev = str(local.ROOT / "dev")
    keep = subprocess.Popen(
        [dev, "run", "--keep", "--no-build", "--data", str(sample), "--logs",
         str(tmp_path / "logs"), "--served", str(served)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not served.exists():
            assert keep.poll() is None, keep.stdout.read()
            assert time.monotonic() < deadline, "./dev run --keep never served"
            time.sleep(0.5)

        def dev_local(*argv: str) -> subprocess.CompletedProcess:
            return subprocess.run([dev, *argv, "--local", "--served", str(served)],
                                  capture_output=True, text=True, timeout=120)

        shown = dev_local("status")
        assert shown.returncode == 0, shown.stderr
        assert "nightly" in shown.stdout and "SUCCEEDED" in shown.stdout
        assert [line.split()[:2] for line in shown.stdout.splitlines()
                if line.strip().startswith("events ")] == [["events", "30"]]
        [run] = json.loads(dev_local("runs", "--json").stdout)
        assert run["status"] == "SUCCEEDED" and run["trigger"] == "nightly"
    finally:
        os.killpg(keep.pid, signal.SIGINT)
        try:
            printed, _ = keep.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(keep.pid, signal.SIGKILL)
            raise
    assert keep.returncode == 0, printed
    assert "keeps running until Ctrl-C" in printed
    assert not served.exists()
    gone = dev_local("status")
    assert gone.returncode == 1 and "no local pipeline is running" in gone.stderr


@pytest.mark.parametrize("argv", [["status"], ["quarantine", "list"]])
def test_a_command_for_no_running_local_pipeline_says_how_to_start_one(argv, tmp_path, capsys):
    assert ops.main([*argv, "--local", "--served", str(tmp_path / "none.json")]) == 1
    assert "start one with ./dev run --keep" in capsys.readouterr().err


WG = "arn:aws:redshift-serverless:us-west-2:123456789012:workgroup/sparkify"
SECRET = "arn:aws:secretsmanager:us-west-2:123456789012:secret:etl"


@pytest.mark.parametrize("parameters, outputs, flags, expected", [
    # A created workgroup is in the outputs only; a workgroup brought to the stack, its parameter.
    ({"WorkgroupArn": "", "ClusterIdentifier": ""}, {"WorkgroupArn": WG}, {}, {"WorkgroupName": WG}),
    ({"WorkgroupArn": WG, "ClusterIdentifier": ""}, {}, {}, {"WorkgroupName": WG}),
    # A cluster: the stack's user or secret, unless the operator names their own; or, with
    # neither, the operator's IAM identity (the Data API's temporary credentials with IAM).
    ({"ClusterIdentifier": "c", "DbUser": "etl"}, {}, {}, {"ClusterIdentifier": "c", "DbUser": "etl"}),
    ({"ClusterIdentifier": "c", "SecretArn": SECRET}, {}, {},
     {"ClusterIdentifier": "c", "SecretArn": SECRET}),
    ({"ClusterIdentifier": "c", "DbUser": "etl"}, {}, {"db_user": "alice"},
     {"ClusterIdentifier": "c", "DbUser": "alice"}),
    ({"ClusterIdentifier": "c", "DbUser": "etl"}, {}, {"secret_arn": SECRET},
     {"ClusterIdentifier": "c", "SecretArn": SECRET}),
    ({"ClusterIdentifier": "c", "DbUser": ""}, {}, {}, {"ClusterIdentifier": "c"}),
])
def test_the_warehouse_a_command_signs_in_to_is_the_one_the_stack_names(
        parameters, outputs, flags, expected):
    assert ops.warehouse_of("s", parameters, outputs, **flags) == expected


def test_a_stack_that_names_no_warehouse_is_refused():
    with pytest.raises(ops.OpsError, match="names no warehouse"):
        ops.warehouse_of("s", {"WorkgroupArn": "", "ClusterIdentifier": ""}, {})


def test_a_song_objects_retry_is_a_run_of_everything_new():
    pipeline = ops.Pipeline(stack="s", machine="m", warehouse={}, database="dev", bucket="b",
                            log_prefix="log_data/", sfn=None, data_api=None, s3=None)
    assert ops.retry_input(pipeline, "song_data/A/B/C/TRABC.json")[0] == {}
