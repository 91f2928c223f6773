"""Security checks that need a running pipeline: no credential reaches a log line, an output or a
statement, and nothing listens beyond this machine unless told to. (The template's checks, such as
no `*` action in any IAM policy and secrets only by ARN, are house rules in crates/tidy.)
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sparkify_local as local  # noqa: E402
from helpers import SCHEDULED, succeeded  # noqa: E402

LOOPBACK = {"127.0.0.1", "00000000:00000000:00000000:00000001"}


def test_a_known_credential_appears_in_no_log_line_output_or_statement(sample, tmp_path):
    # The functions' session token is a credential Lambda gives every function, as the secret
    # behind REDSHIFT_SECRET_ARN is one the Data API reads: neither may ever be written anywhere.
    canary = f"canary{uuid.uuid4().hex}"
    logs = tmp_path / "logs"
    with local.LocalPipeline(sample, logs, postgres_binaries=True,
                             function_env={"AWS_SESSION_TOKEN": canary}) as pipeline:
        run = pipeline.execute(SCHEDULED)
        succeeded(run)
        statements = json.dumps(pipeline.statements(), default=str)
    # It did reach the functions: their environment file is the one place it may be.
    assert canary in (logs / "functions.env").read_text()
    captured = {
        path.name: path.read_text(errors="replace")
        for path in logs.iterdir()
        if path.is_file() and path.name != "functions.env"
    }
    assert "functions.log" in captured and "redshift-local.log" in captured
    assert "batch submitted" in captured["functions.log"], "the functions logged their work"
    captured["history"] = json.dumps(run.history, default=str)
    captured["output"] = json.dumps(run.output)
    captured["statements"] = statements
    leaks = [name for name, text in captured.items() if canary in text]
    assert leaks == [], f"the credential was written to {leaks}"


def test_every_process_of_the_pipeline_listens_on_loopback_only(sample, tmp_path):
    with local.LocalPipeline(sample, tmp_path / "logs", postgres_binaries=True) as pipeline:
        succeeded(pipeline.execute(SCHEDULED))
        listening = pipeline.listening()
        ports = {port for _, port, _ in listening}
        # The Data API, S3, PostgreSQL and the local Lambda's endpoints, at least.
        assert {int(pipeline.data_api_url.rsplit(":", 1)[1]), int(pipeline.s3_url.rsplit(":", 1)[1])} <= ports
        assert len(listening) >= 4, listening
        exposed = [entry for entry in listening if entry[0] not in LOOPBACK]
        assert exposed == [], f"listening beyond this machine: {exposed}"
