"""Lambda's limits, enforced locally as Lambda enforces them (tools/local_lambda.py): a function
past its MemorySize is killed and its Task fails with `Runtime.ExitError` ("signal: killed"); one
past its Timeout is stopped with `Sandbox.Timedout`, which the state machine retries like a Task
timeout (the call's client token makes the retry follow the same statement). The limits are the
template's (MemorySize 128, Timeout 30); these tests lower one function's."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import local_lambda  # noqa: E402
import sparkify_local as local  # noqa: E402
from helpers import SCHEDULED, succeeded  # noqa: E402


def failures(execution: local.Execution) -> list[tuple[str, str]]:
    return [(e["taskFailedEventDetails"].get("error"), e["taskFailedEventDetails"].get("cause"))
            for e in execution.history if e["type"] == "TaskFailed"]


def test_the_template_gives_every_function_its_limits():
    found = local_lambda.limits((local.ROOT / "template.yaml").read_text(), local.LAMBDA_RESOURCES)
    assert found == {name: (128, 30.0) for name in local.LAMBDA_RESOURCES}


def test_a_function_past_its_memory_is_killed_and_the_run_fails_naming_it(sample, tmp_path):
    # 8 MB: less than the function's own process takes before its first line runs.
    with local.LocalPipeline(sample, tmp_path / "logs", limits={"copy-staging": (8, 30)}) as pipeline:
        run = pipeline.execute(SCHEDULED)
        calls = pipeline.lambda_calls
        staged = pipeline.query("SELECT COUNT(*) FROM staging_files")[0][0]
    assert run.status == "FAILED"
    assert run.error == "StepFailed", (run.error, run.cause)
    [(error, cause)] = failures(run)
    assert error == "Runtime.ExitError"
    assert json.loads(cause)["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    killed = [c for c in calls if c.outcome == "Runtime.ExitError"]
    assert [c.function for c in killed] == ["copy-staging"] and killed[0].peak_mib > 8
    # Every other call stayed within the template's 128 MB.
    assert all(c.peak_mib < 128 for c in calls)
    assert staged == 0


def test_a_function_past_its_timeout_is_stopped_and_its_retry_follows_the_same_statement(sample, tmp_path):
    # Every batch takes at least 1.2 s; create-tables may run 1 s, so its first call is stopped.
    # A new warehouse's guard and creating batches take 2.4 s together, within the third call
    # (it starts 2 s after the first at the earliest, when the FULL jitter draws no delay, and
    # may run 1 s): with 2.5 s a batch, the run passed or failed by the jitter's draws.
    with local.LocalPipeline(sample, tmp_path / "logs", min_statement_ms=1200,
                             limits={"create-tables": (128, 1)}) as pipeline:
        run = pipeline.execute(SCHEDULED)
        statements = [s for s in pipeline.statements() if s.get("StatementName") == "sparkify-create-tables"]
        calls = [c for c in pipeline.lambda_calls if c.function == "create-tables"]
    succeeded(run)
    timed_out = [(e, c) for e, c in failures(run) if e == "Sandbox.Timedout"]
    assert timed_out, failures(run)
    assert "Task timed out after 1.00 seconds" in json.loads(timed_out[0][1])["errorMessage"]
    assert calls[0].outcome == "Sandbox.Timedout" and 1.0 <= calls[0].seconds < 2.0
    # The retry sent the same client token: one create-tables batch ran.
    assert len(statements) == 1, statements


def test_a_state_over_256_kib_fails_the_run_as_step_functions_does(sample, tmp_path):
    # moto's engine holds no state to Step Functions' 262,144 bytes; the local pipeline does.
    assert local._over_state_limit({"type": "TaskStateExited", "stateExitedEventDetails": {
        "name": "CopyStaging", "output": "x" * 262_144}}) is None
    assert "256 KiB" in local._over_state_limit({"type": "TaskStateExited", "stateExitedEventDetails": {
        "name": "CopyStaging", "output": "é" * 131_073}})
    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        run = pipeline.execute({"note": "x" * 300_000})
    assert (run.status, run.error) == ("FAILED", "States.DataLimitExceeded"), (run.status, run.cause)
    assert "over Step Functions' 256 KiB" in run.cause
