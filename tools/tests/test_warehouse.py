"""The warehouse's lifecycle around a run, on a provisioned cluster: the deployed state machine
(Warehouse before CreateTables, Release after the run) with the `warehouse` function on the
stand-in's management API (DescribeClusters, PauseCluster, ResumeCluster; redshift-local's
clusters.rs), which moves the cluster through pausing → paused → resuming → available in real
time and refuses Data API statements while it is not available."""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest

from helpers import SCHEDULED, local, succeeded

CLUSTER = local.CLUSTER


def pipeline(sample, tmp_path, **options) -> local.LocalPipeline:
    return local.LocalPipeline(sample, tmp_path / "logs", target="cluster", **options)


def pause_and_wait(p: local.LocalPipeline) -> None:
    p.clusters.pause_cluster(ClusterIdentifier=CLUSTER)
    wait_for(p, "paused")


def wait_for(p: local.LocalPipeline, status: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while p.cluster_report()["status"] != status:
        assert time.monotonic() < deadline, p.cluster_report()
        time.sleep(0.2)


def states(execution: local.Execution) -> list[str]:
    return execution.states_entered("Task")


def test_a_paused_cluster_is_resumed_for_the_run_and_paused_again_after_it(sample, tmp_path):
    with pipeline(sample, tmp_path, pause_when_idle=True) as p:
        pause_and_wait(p)
        counts = succeeded(p.execute(SCHEDULED))
        assert counts["songplays"] > 0
        # PauseCluster was asked for once by the test and once by the run, ResumeCluster once.
        wait_for(p, "paused")
        assert p.cluster_report() == {"status": "paused", "pauses": 2, "resumes": 1}
        # The marker "a run resumed it" is gone with the pause.
        assert not list((tmp_path / "logs" / "s3-scratch" / local.MANIFEST_BUCKET).glob("warehouse/**/*.json"))


def test_a_failed_run_pauses_the_cluster_too_and_keeps_its_own_error(sample, tmp_path):
    # copy-staging cannot read the data: the run fails after the cluster was resumed.
    with pipeline(sample, tmp_path, pause_when_idle=True,
                  function_env={"DATA_BUCKET": "no-such-bucket"}) as p:
        pause_and_wait(p)
        failed = p.execute(SCHEDULED)
        assert failed.status == "FAILED"
        assert failed.error == "S3Rejected", failed.cause
        assert "Release" in states(failed)
        wait_for(p, "paused")
        assert p.cluster_report() == {"status": "paused", "pauses": 2, "resumes": 1}
        assert [n["message"]["error"] for n in failed.notifications] == ["S3Rejected"]


def test_two_overlapping_runs_resume_once_and_the_last_out_pauses_once(sample, tmp_path):
    with pipeline(sample, tmp_path, pause_when_idle=True) as p:
        pause_and_wait(p)
        first = p.start(SCHEDULED)
        time.sleep(0.5)
        second = p.start(SCHEDULED)  # another event: another run
        runs = [p.wait(first), p.wait(second)]
        for run in runs:
            succeeded(run)
        wait_for(p, "paused")
        assert p.cluster_report() == {"status": "paused", "pauses": 2, "resumes": 1}
        # The earlier run stays until the later one has ended and pauses; the later one leaves.
        notes = [run_note(run) for run in runs]
        assert "paused cluster" in notes[0], notes
        assert "earlier is running" in notes[1], notes


def run_note(run: local.Execution) -> str:
    import json

    for event in reversed(run.history):
        details = event.get("stateExitedEventDetails")
        if event["type"] == "TaskStateExited" and details["name"] == "Release":
            return json.loads(details["output"])["warehouse_release"]["note"]
    raise AssertionError("no Release")


def test_a_cluster_that_was_running_when_the_run_began_is_left_running(sample, tmp_path):
    with pipeline(sample, tmp_path, pause_when_idle=True) as p:
        succeeded(p.execute(SCHEDULED))
        assert p.cluster_report() == {"status": "available", "pauses": 0, "resumes": 0}


def test_without_pause_when_idle_a_paused_cluster_fails_the_run_by_name_and_stays_paused(
        sample, tmp_path):
    with pipeline(sample, tmp_path) as p:
        pause_and_wait(p)
        failed = p.execute(SCHEDULED)
        assert failed.status == "FAILED"
        assert failed.error == "WarehousePaused", failed.cause
        assert "./dev warehouse resume" in failed.cause
        assert "CreateTables" not in states(failed)
        assert p.cluster_report() == {"status": "paused", "pauses": 1, "resumes": 0}


@pytest.mark.parametrize("env, error", [
    ({"REDSHIFT_CLUSTER_ID": "no-such-cluster"}, "WarehouseNotFound"),
    ({"COPY_ROLE_ARN": "arn:aws:iam::123456789012:role/not-attached"}, "CopyRoleNotAttached"),
])
def test_each_preflight_error_is_named_and_caught_before_any_statement(env, error, sample, tmp_path):
    with pipeline(sample, tmp_path, function_env=env) as p:
        failed = p.execute(SCHEDULED)
        assert failed.status == "FAILED"
        assert failed.error == error, failed.cause
        assert states(failed)[:2] == ["ListRunning", "Warehouse"]
        assert "CreateTables" not in states(failed)
        assert [n["message"]["error"] for n in failed.notifications] == [error]


def test_a_workgroup_the_data_api_does_not_know_fails_the_run_as_warehouse_not_found(
        sample, tmp_path):
    """A workgroup's check is the Data API's answer to create-tables' first statement: the
    design's packages have no Serverless management API (aws-sdk-redshiftserverless)."""
    missing = {"REDSHIFT_WORKGROUP": "arn:aws:redshift-serverless:us-west-2:123456789012:workgroup/nope"}
    with local.LocalPipeline(sample, tmp_path / "logs", function_env=missing) as p:
        failed = p.execute(SCHEDULED)
        assert failed.status == "FAILED"
        assert failed.error == "WarehouseNotFound", failed.cause
        assert "endpoint doesn't exist" in failed.cause
        assert "CopyStaging" not in states(failed)


def test_a_database_the_warehouse_does_not_have_fails_the_first_statement_by_name(
        sample, tmp_path):
    with local.LocalPipeline(sample, tmp_path / "logs", function_env={"REDSHIFT_DATABASE": "prod"}) as p:
        failed = p.execute(SCHEDULED)
        assert failed.status == "FAILED"
        assert failed.error == "DataApiRejected", failed.cause
        assert 'database \\"prod\\" does not exist' in failed.cause  # JSON-escaped
        assert "CopyStaging" not in states(failed)


def test_dev_warehouse_prints_the_cluster_and_waits_for_a_pause_and_a_resume(sample, tmp_path):
    with pipeline(sample, tmp_path) as p:
        env = {**os.environ, "AWS_ENDPOINT_URL_REDSHIFT": p.data_api_url,
               "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
               "AWS_REGION": local.REGION, "REDSHIFT_CLUSTER_ID": CLUSTER}

        def warehouse(*args: str) -> str:
            run = subprocess.run([str(local.TARGET / "debug" / "sparkify-warehouse"), *args,
                                  "--every", "1"], env=env, capture_output=True, text=True,
                                 timeout=60)
            assert run.returncode == 0, run.stderr
            return run.stdout

        status = warehouse("status")
        for line in ["status    available", "nodes     2 x ra3.large", "database  dev",
                     "arn:aws:iam::123456789012:role/sparkify-copy (in-sync)", "endpoint  "]:
            assert line in status, status
        paused = warehouse("pause")
        assert "available -> pausing" in paused and "status    paused" in paused, paused
        assert "is paused already" in warehouse("pause")
        resumed = warehouse("resume")
        assert "paused -> resuming" in resumed and "status    available" in resumed, resumed
        assert p.cluster_report() == {"status": "available", "pauses": 1, "resumes": 1}
        missing = subprocess.run([str(local.TARGET / "debug" / "sparkify-warehouse"), "status",
                                  "--cluster", "nope"], env=env, capture_output=True, text=True)
        assert missing.returncode == 1 and missing.stderr.startswith("WarehouseNotFound:"), missing
