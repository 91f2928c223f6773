"""Overlapping executions, runs killed part way, and the faults a warehouse and the Data API
throw, through the deployable state machine executed locally.

Faults come from redshift-local's switches (local/redshift-local/src/faults.rs). Whatever happens,
the warehouse must end where one clean nightly run over the same bucket ends (the oracle): a run
either succeeds after its retries, or fails with a named error and leaves nothing half-loaded that
a rerun would not put right.
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sparkify_local as local  # noqa: E402
from helpers import SCHEDULED, copied_objects, from_scratch, object_created, succeeded  # noqa: E402


@pytest.fixture
def oracle(sample, tmp_path):
    """Checksums of every table after one clean nightly run over the sample as generated."""
    copy = tmp_path / "oracle" / "udacity-dend"
    shutil.copytree(sample, copy)
    return from_scratch(copy, tmp_path / "logs-oracle")


def states_entered(execution: local.Execution) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"] for e in execution.history if "stateEnteredEventDetails" in e
    ]


def failed_task_errors(execution: local.Execution) -> list[str]:
    return [
        e["taskFailedEventDetails"]["error"]
        for e in execution.history
        if e["type"] == "TaskFailed"
    ]


def staged_rows(pipeline: local.LocalPipeline) -> tuple[int, int]:
    """Rows staged and not published: what an execution that ended part way leaves, and the next
    one removes (published lines are the event store, and stay)."""
    return (
        pipeline.query("SELECT COUNT(*) FROM staging_events WHERE NOT published")[0][0],
        pipeline.query("SELECT COUNT(*) FROM staging_files")[0][0],
    )


# A workgroup's transactions run at SNAPSHOT isolation, a cluster's at SERIALIZABLE (redshift-local,
# as Redshift's defaults): the ten executions must end the same under both.
@pytest.mark.parametrize("target", ["workgroup", "cluster"])
def test_ten_new_file_runs_at_once_end_with_exact_totals(
    target, sample, oracle, tmp_path
):
    log_keys = sorted(str(p.relative_to(sample)) for p in (sample / "log_data").rglob("*.json"))
    late = log_keys[-10:]
    held = tmp_path / "held"
    for key in late:
        (held / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(sample / key, held / key)
    # The embedded PostgreSQL runs one statement at a time; this needs transactions that overlap.
    with local.LocalPipeline(sample, tmp_path / "logs", postgres_binaries=True,
                             target=target) as pipeline:
        succeeded(pipeline.execute(SCHEDULED))
        # Ten runs for new files at once, each of one file: as ten events delivered to the starter
        # by hand start, or windows of the new-file queue that follow one another (a window's
        # runs do not wait for the one before).
        for key in late:
            shutil.move(held / key, sample / key)
        arns = [pipeline.start(object_created(key)) for key in late]
        runs = [pipeline.wait(arn, timeout=1200) for arn in arns]
        for key, run in zip(late, runs):
            counts = succeeded(run)
            # Each saw only its own staging rows: its object's lines, no one else's.
            assert copied_objects(run) == [key]
            assert counts["staging_events"] == len((sample / key).read_text().splitlines()), key
        ledger = pipeline.ledger()
        assert {ledger[key]["run_id"] for key in late} == {run.name for run in runs}
        # No execution removed another's staging rows before it was done with them, and each
        # removed its own.
        assert staged_rows(pipeline) == (0, 0)
        assert pipeline.checksums() == oracle
        overlapping = sum("Resubmit" in " ".join(states_entered(run)) for run in runs)
        print(f"\n{overlapping} of 10 executions lost a serialization conflict and resubmitted")


def test_a_run_that_verifies_while_another_is_between_facts_and_dimensions_passes(sample, oracle, tmp_path):
    # One execution commits its plays after a second one loaded its dimensions and before the
    # second runs its checks: the plays the first still has staged are the first's to check.
    first, second = sorted(str(p.relative_to(sample)) for p in (sample / "log_data").rglob("*.json"))[-2:]
    held = tmp_path / "held"
    for key in (first, second):
        (held / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(sample / key, held / key)
    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        succeeded(pipeline.execute(SCHEDULED))
        for key in (first, second):
            shutil.move(held / key, sample / key)
        checking, facts_in, release = threading.Event(), threading.Event(), threading.Event()
        # Each run's name ends with its event's id.
        checks_event, plays_event = (local.new_event(object_created(key)) for key in (second, first))

        def interleave(function: str, payload: dict) -> bool:
            execution = payload["execution"]
            if function == "verify-counts" and execution.endswith(checks_event["id"]):
                checking.set()
                facts_in.wait(300)  # ... until the other's plays are in
            if function == "load-dimensions" and execution.endswith(plays_event["id"]):
                facts_in.set()
                release.wait(300)  # ... until the checks are done
            return False

        pipeline.before_calls(interleave)
        try:
            checks = pipeline.deliver(checks_event).output["etl_execution"]
            assert checking.wait(300), "the first execution never reached verify-counts"
            plays = pipeline.deliver(plays_event).output["etl_execution"]
            checked = pipeline.wait(checks)
        finally:
            facts_in.set()
            release.set()
            pipeline.before_calls(None)
        assert facts_in.is_set()
        played = pipeline.wait(plays)
        succeeded(checked)
        succeeded(played)
        assert pipeline.checksums() == oracle


def test_a_run_reports_only_its_own_load_errors_while_another_loads_a_bad_file(sample, tmp_path):
    # The load errors Redshift records after a run starts include those of the runs that overlap
    # it. verify-counts asks the ledger which of their objects are its run's: the run that loaded
    # the bad file reports its two lines, the one that verifies after that COPY reports nothing.
    good = sorted(str(p.relative_to(sample)) for p in (sample / "log_data").rglob("*.json"))[-1]
    held = tmp_path / "held" / good
    held.parent.mkdir(parents=True)
    shutil.move(sample / good, held)
    bad = "log_data/2018/12/2018-12-02-events.json"
    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        succeeded(pipeline.execute(SCHEDULED))
        shutil.move(held, sample / good)
        (sample / bad).parent.mkdir(parents=True, exist_ok=True)
        (sample / bad).write_text('{"ts": 1, broken\n{"ts": 2, broken\n')
        clean_event, bad_event = (local.new_event(object_created(key)) for key in (good, bad))
        loaded, waited = threading.Event(), []

        def interleave(function: str, payload: dict) -> bool:
            execution = payload["execution"]
            if function == "verify-counts" and execution.endswith(clean_event["id"]):
                # ... until the other run's COPY has recorded its errors
                waited.append(loaded.wait(300))
            if function == "load-dimensions" and execution.endswith(bad_event["id"]):
                loaded.set()
            return False

        pipeline.before_calls(interleave)
        try:
            clean = pipeline.deliver(clean_event).output["etl_execution"]
            dirty = pipeline.deliver(bad_event).output["etl_execution"]
            clean_run, bad_run = pipeline.wait(clean), pipeline.wait(dirty)
        finally:
            loaded.set()
            pipeline.before_calls(None)
    # The clean run verified only after the bad file's COPY, which came after the clean run began:
    # the load errors it read named the bad file, and the ledger said it was not its own.
    assert waited and all(waited), waited
    succeeded(clean_run)
    succeeded(bad_run)
    assert copied_objects(clean_run) == [good] and copied_objects(bad_run) == [bad]
    rejected = [(r["file"].rsplit("/", 1)[1], r["line"]) for r in bad_run.report["rejects"]]
    assert rejected == [("2018-12-02-events.json", 1), ("2018-12-02-events.json", 2)]
    assert clean_run.report["rejects"] == [] and clean_run.report["rejected_rows"] == 0
    assert clean_run.report["unattributed_rows"] == 0


def test_a_ledger_question_that_loses_a_conflict_ends_the_run_with_its_load_errors_unattributed(
    sample, tmp_path
):
    # verify-counts' batch has committed when it asks the ledger about the load errors' objects:
    # a conflict there must not resubmit the batch (whose staging it has removed). The run
    # succeeds, and the report counts the load errors apart instead of listing them.
    bad = sample / "log_data/2018/12/2018-12-02-events.json"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text('{"ts": 1, broken\n{"ts": 2, broken\n')
    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        pipeline.arm_fault({"kind": "conflict", "statement_name": "sparkify-verify-counts-rejected-objects",
                            "times": 1})
        run = pipeline.execute(SCHEDULED)
    succeeded(run)
    assert "VerifyCountsResubmit" not in states_entered(run)
    assert [r for r in run.report["rejects"] if r["line"] is not None] == []
    assert run.report["unattributed_rows"] == 2


def test_a_lost_serialization_conflict_is_submitted_again_and_the_run_succeeds(sample, oracle, tmp_path):
    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        pipeline.arm_fault({"kind": "conflict", "statement_name": "sparkify-load-facts", "times": 2})
        pipeline.arm_fault({"kind": "conflict", "statement_name": "sparkify-copy-staging", "times": 1})
        run = pipeline.execute(SCHEDULED)
        succeeded(run)
        entered = states_entered(run)
        assert entered.count("LoadFactsResubmit") == 2
        assert entered.count("CopyStagingResubmit") == 1
        assert run.output["load_facts"]["attempt"] == 2
        assert run.output["copy_staging"]["attempt"] == 1
        # Each attempt was a statement of its own; the lost ones are FAILED with Redshift's 1023.
        facts = [s for s in pipeline.statements() if s.get("StatementName") == "sparkify-load-facts"]
        assert sorted(s["Status"] for s in facts) == ["FAILED", "FAILED", "FINISHED"]
        assert pipeline.checksums() == oracle


def test_conflicts_past_the_cap_end_in_the_named_error_with_nothing_half_loaded(sample, oracle, tmp_path):
    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        pipeline.arm_fault({"kind": "conflict", "statement_name": "sparkify-load-dimensions", "times": 6})
        run = pipeline.execute(SCHEDULED)
        assert run.status == "FAILED"
        assert run.error == "SerializationConflict"
        assert states_entered(run).count("LoadDimensionsResubmit") == 5
        [notice] = run.notifications
        assert notice["message"]["error"] == "SerializationConflict"
        # Not one users row of the lost batch is there, and its users are still listed for the
        # next load-dimensions (what load-facts committed before it stays: the plays, their start
        # times and the ledger).
        assert pipeline.query("SELECT COUNT(*) FROM users")[0][0] == 0
        assert pipeline.query("SELECT COUNT(*) FROM changed_users")[0][0] == 24
        assert pipeline.query("SELECT COUNT(*) FROM load_ledger WHERE kind = 'events'")[0][0] == 30
        # A rerun, which finds nothing new to load, puts everything right.
        succeeded(pipeline.execute(SCHEDULED))
        assert pipeline.checksums() == oracle


def test_throttling_past_the_sdk_retries_is_retried_by_the_state_machine(sample, oracle, tmp_path):
    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        # The SDK tries each call 3 times; the fourth throttled answer reaches the state machine.
        pipeline.arm_fault({"kind": "throttle", "operation": "BatchExecuteStatement", "times": 4})
        run = pipeline.execute(SCHEDULED)
        succeeded(run)
        assert "Throttled" in failed_task_errors(run)
        assert pipeline.checksums() == oracle


def test_the_data_apis_server_side_faults_are_retried_by_the_state_machine(sample, oracle, tmp_path):
    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        # BatchExecuteStatementException is HTTP 500: the SDK tries 3 times, the fourth reaches
        # the function as DataApiUnavailable, which the state machine retries.
        pipeline.arm_fault({"kind": "server-error", "operation": "BatchExecuteStatement", "times": 4})
        run = pipeline.execute(SCHEDULED)
        succeeded(run)
        assert "DataApiUnavailable" in failed_task_errors(run)
        assert pipeline.checksums() == oracle


def timed_out_tasks(execution: local.Execution) -> list[str]:
    return [e["type"] for e in execution.history if e["type"].endswith("TimedOut")]


def batches_named(pipeline: local.LocalPipeline, name: str) -> int:
    return sum(1 for s in pipeline.statements() if s.get("StatementName") == name)


# The Data API stalls on load-facts' submit for longer than the Task's timeout (shortened to 4 s
# here, 60 s deployed), so the call times out: States.Timeout, retried twice.
STALLED_SUBMIT = {"kind": "delay", "operation": "BatchExecuteStatement",
                  "statement_name": "sparkify-load-facts", "millis": 6000}


def test_a_step_whose_call_times_out_is_called_again_and_submits_its_batch_once(sample, oracle, tmp_path):
    with local.LocalPipeline(sample, tmp_path / "logs", task_timeout_seconds=4) as pipeline:
        pipeline.arm_fault({**STALLED_SUBMIT, "times": 1})
        run = pipeline.execute(SCHEDULED)
        succeeded(run)
        assert timed_out_tasks(run) == ["TaskTimedOut"]
        # The stalled submit and its retry carry the same ClientToken: one batch ran.
        assert batches_named(pipeline, "sparkify-load-facts") == 1
        assert pipeline.checksums() == oracle


def test_a_step_that_keeps_timing_out_fails_the_run_as_step_timed_out_and_a_rerun_mends_it(
    sample, oracle, tmp_path
):
    with local.LocalPipeline(sample, tmp_path / "logs", task_timeout_seconds=4) as pipeline:
        pipeline.arm_fault({**STALLED_SUBMIT, "times": 3})
        run = pipeline.execute(SCHEDULED)
        assert run.status == "FAILED"
        # A Fail state cannot end with States.Timeout: NameFailure names it.
        assert run.error == "StepTimedOut"
        assert timed_out_tasks(run) == ["TaskTimedOut"] * 3
        [notice] = run.notifications
        assert notice["message"]["error"] == "StepTimedOut"
        assert "LoadDimensions" not in states_entered(run)
        # Nothing was written past the step that timed out: no users row (load-dimensions never
        # ran; the stalled load-facts batch, which the stand-in runs once its delay is over, may
        # have committed, and lists the users for the next run); a rerun ends where a clean run
        # does.
        assert pipeline.query("SELECT COUNT(*) FROM users")[0][0] == 0
        succeeded(pipeline.execute(SCHEDULED))
        assert pipeline.checksums() == oracle


@pytest.mark.parametrize(
    "fault",
    [
        # The first round's batch (the song objects'): LOCK, COPY staging_files, CREATE TEMP,
        # COPY songs_load, the artists it changes, ...
        {"kind": "fail", "statement_name": "sparkify-copy-staging", "sub_statement": 5},
        {"kind": "drop-connection", "statement_name": "sparkify-copy-staging", "sub_statement": 4},
    ],
    ids=["statement-fails-mid-batch", "connection-dropped-at-copy"],
)
def test_a_batch_that_dies_part_way_fails_the_run_by_name_and_leaves_nothing_behind(
    fault, sample, oracle, tmp_path
):
    # Ending a session from outside needs a second connection, which the embedded server lacks.
    with local.LocalPipeline(sample, tmp_path / "logs", postgres_binaries=True) as pipeline:
        pipeline.arm_fault(fault)
        run = pipeline.execute(SCHEDULED)
        assert run.status == "FAILED"
        assert run.error == "StatementFailed"
        assert "sub-statement" in run.cause
        assert staged_rows(pipeline) == (0, 0)
        for table in ["staging_songs", "load_ledger", "songplays", "users"]:
            assert pipeline.query(f"SELECT COUNT(*) FROM {table}")[0][0] == 0, table
        succeeded(pipeline.execute(SCHEDULED))
        assert pipeline.checksums() == oracle


@pytest.mark.parametrize("stopped_before", ["load-facts", "load-dimensions", "verify-counts"])
def test_a_run_killed_after_any_step_and_run_again_ends_where_one_clean_run_does(
    stopped_before, sample, oracle, tmp_path
):
    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        # Stopped as it calls the next function: every step before it has committed.
        killed = pipeline.execute(SCHEDULED, stop_before=stopped_before)
        # On AWS the stopped execution is ABORTED at once; moto's engine sees the stop only
        # between states, so the refused call ends the Task first and the run reaches Catch.
        assert killed.status in ("ABORTED", "FAILED"), killed.status
        assert stopped_before.replace("-", "_") not in (killed.output or {})
        # What the killed run staged is still there ...
        assert staged_rows(pipeline) != (0, 0)
        time.sleep(1)  # the rerun starts strictly later than the killed run staged
        again = pipeline.execute(SCHEDULED)
        succeeded(again)
        # ... until the next run starts: create-tables removes it.
        reaped = json.loads(
            next(
                e["stateExitedEventDetails"]["output"]
                for e in again.history
                if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "ListRunning"
            )
        )["running"]["names"]
        assert reaped == [again.name]
        assert pipeline.checksums() == oracle


def test_a_run_past_the_cap_on_running_runs_stops_before_the_warehouse(sample, oracle, tmp_path):
    """At most RunsCap runs at once (100 deployed; 1 here): one more stops as TooManyRuns before
    its warehouse step, changing nothing, while the run already going ends as one clean run."""
    with local.LocalPipeline(sample, tmp_path / "logs", runs_cap=1) as pipeline:
        inside, release = threading.Event(), threading.Event()

        def hold(function: str, payload: dict) -> bool:
            if function == "copy-staging" and payload["execution"].endswith("first"):
                inside.set()
                release.wait(300)
            return False

        pipeline.before_calls(hold)
        try:
            first = pipeline.start({}, name="first")
            assert inside.wait(300), "the first run never reached copy-staging"
            second = pipeline.execute({}, name="second")
        finally:
            release.set()
            pipeline.before_calls(None)
        assert (second.status, second.error) == ("FAILED", "TooManyRuns"), second.cause
        assert "Warehouse" not in second.states_entered("Task")
        succeeded(pipeline.wait(first))
        assert {row["run_id"] for row in pipeline.ledger().values()} == {"first"}
        assert pipeline.checksums() == oracle
