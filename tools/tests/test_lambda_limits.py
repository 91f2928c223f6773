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
    # The teardown empties a bucket of a week's manifests: 120 s.
    assert found == {name: (128, 120.0 if name == "empty-manifests" else 30.0)
                     for name in local.LAMBDA_RESOURCES}


def test_the_template_gives_every_function_the_stacks_architecture_but_the_teardowns():
    template = (local.ROOT / "template.yaml").read_text()
    for parameter in (None, "x86_64", "arm64"):
        found = local_lambda.architectures(template, local.LAMBDA_RESOURCES, parameter)
        assert found == {name: "x86_64" if name == "empty-manifests" else parameter or "x86_64"
                         for name in local.LAMBDA_RESOURCES}
    assert local_lambda.built_for(local.TARGET / "debug" / "bootstrap") == "x86_64"
    assert local_lambda.built_for(local.ROOT / "template.yaml") is None


def test_every_function_runs_the_one_bootstrap_with_its_own_name_as_handler():
    """What the local Lambda starts for each function (the template's CodeUri and Handler): the
    binary `./dev run` builds, with `_HANDLER` naming the function, as Lambda starts it."""
    code = local_lambda.code((local.ROOT / "template.yaml").read_text(), local.LAMBDA_RESOURCES)
    assert code == {name: ("bootstrap", name) for name in local.LAMBDA_RESOURCES}
    assert "bootstrap" in local.BINARIES


class _ResponseUrl:
    """CloudFormation's presigned response URL, on loopback: keeps each PUT's body."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        received = self.received = []

        class Put(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_PUT(self):
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Put)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/response?X-Amz-Signature=1"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _custom_resource(pipeline: local.LocalPipeline, url: str, request_type: str) -> dict:
    """What CloudFormation sends EmptyManifestsOnDelete, through Lambda's Invoke."""
    import boto3
    client = boto3.client("lambda", region_name=local.REGION, endpoint_url=pipeline.lambda_url,
                          aws_access_key_id="local", aws_secret_access_key="local")
    request = {
        "RequestType": request_type, "ResponseURL": url, "RequestId": f"r-{request_type}",
        "StackId": "arn:aws:cloudformation:us-west-2:123456789012:stack/sparkify-etl/1",
        "ResourceType": "Custom::EmptyManifests", "LogicalResourceId": "EmptyManifestsOnDelete",
        "ResourceProperties": {"ServiceToken": "arn", "Bucket": "b", "Architecture": "arm64"},
    }
    if request_type != "Create":
        request["PhysicalResourceId"] = "EmptyManifestsOnDelete-empty-on-delete"
    answer = client.invoke(FunctionName="empty-manifests", Payload=json.dumps(request).encode())
    assert "FunctionError" not in answer, answer["Payload"].read()
    return json.loads(answer["Payload"].read())


def test_functions_built_for_the_other_instruction_set_fail_the_deployment_with_the_fix(sample, tmp_path):
    # sam deploy --guided saved Architecture=arm64 for the deploy; sam build compiled x86_64.
    response = _ResponseUrl()
    try:
        with local.LocalPipeline(sample, tmp_path / "arm64", architecture="arm64") as pipeline:
            created = _custom_resource(pipeline, response.url, "Create")
            # The rollback deletes the resource: its teardown still runs (it is always x86_64).
            deleted = _custom_resource(pipeline, response.url, "Delete")
            calls = [(c.function, c.outcome) for c in pipeline.lambda_calls]
        with local.LocalPipeline(sample, tmp_path / "x86_64") as pipeline:
            matching = _custom_resource(pipeline, response.url, "Create")
    finally:
        response.close()
    assert created["Status"] == "FAILED"
    assert created["Reason"].startswith(
        "ConfigError: configuration error: warehouse does not start (Runtime.InvalidEntrypoint: "), created
    assert "exec format error" in created["Reason"]
    assert "sam build --parameter-overrides Architecture=arm64" in created["Reason"]
    assert ("warehouse", "Runtime.InvalidEntrypoint") in calls
    assert deleted["Status"] == "SUCCESS", deleted
    assert matching["Status"] == "SUCCESS", matching
    assert matching["Reason"].startswith("warehouse starts on x86_64; "), matching
    # CloudFormation received exactly these answers.
    assert response.received == [created, deleted, matching]


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
