"""`./dev smoke` (tools/smoke.py), the post-deploy check, run as a user runs it after a deploy:
against a stack whose StateMachineArn output names the local pipeline's state machine (moto
serves CloudFormation and Step Functions)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import smoke  # noqa: E402
import sparkify_local as local  # noqa: E402

# The smallest stack that has the deployed stack's output.
STACK = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"StateMachineArn": {"Type": "String"}},
    "Resources": {"FailureTopic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {"StateMachineArn": {"Value": {"Ref": "StateMachineArn"}}},
}


def test_smoke_starts_one_execution_follows_it_and_prints_the_counts_and_checks(sample, tmp_path, capsys):
    import boto3

    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        boto3.client("cloudformation", region_name=local.REGION).create_stack(
            StackName="sparkify-etl", TemplateBody=json.dumps(STACK),
            Parameters=[{"ParameterKey": "StateMachineArn", "ParameterValue": pipeline.state_machine_arn}],
        )
        code = smoke.main(["sparkify-etl", "--region", local.REGION])
        printed = capsys.readouterr().out
        assert code == 0, printed
        [execution] = pipeline.sfn.list_executions(stateMachineArn=pipeline.state_machine_arn)["executions"]
        assert execution["name"].startswith("smoke-") and execution["status"] == "SUCCEEDED"
        counts = pipeline.counts()
    # The progress lines, then the table of counts and the checks, as `./dev run` prints them.
    assert "CopyStaging" in printed and "execution SUCCEEDED" in printed
    for table in ("songplays", "users", "songs", "artists", "time"):
        assert any(line.split()[:2] == [table, f"{counts[table]:,}"] for line in printed.splitlines()), table
    assert re.search(r"(?m)^  checks: [1-9][0-9]* passed, 0 failed$", printed), printed
    assert f"passed: {execution['name']}" in printed


def test_smoke_of_a_stack_without_the_output_says_so(sample, tmp_path, capsys):
    import boto3

    with local.LocalPipeline(sample, tmp_path / "logs"):
        other = dict(STACK, Outputs={})
        boto3.client("cloudformation", region_name=local.REGION).create_stack(
            StackName="other", TemplateBody=json.dumps(other),
            Parameters=[{"ParameterKey": "StateMachineArn", "ParameterValue": "x"}],
        )
        assert smoke.main(["other", "--region", local.REGION]) == 2
    assert "has no StateMachineArn output" in capsys.readouterr().out
