"""`./dev smoke [STACK]`: after `sam deploy`, runs one execution of the deployed state machine and
shows it end to end.

It reads the stack's outputs (CloudFormation DescribeStacks: `StateMachineArn`), starts one
execution with `{}` (load everything new) under the name `smoke-<time>`, follows it state by state
with the same progress lines as `./dev run`, and prints verify-counts' table of counts and checks
and any load errors, or the failure's error and cause. It exits 0 only when the execution
succeeded with every check passed. AWS credentials and the region come from the usual places
(`AWS_PROFILE`, `AWS_REGION`, ...); the stack's name defaults to samconfig.toml's `stack_name`.

The tests run this same command against the local pipeline (tools/tests/test_smoke.py): moto
serves CloudFormation and Step Functions there, with a stack whose output names the local state
machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sparkify_local as local  # noqa: E402


def default_stack() -> str:
    text = (local.ROOT / "samconfig.toml").read_text()
    found = re.search(r'(?m)^stack_name\s*=\s*"([^"]+)"', text)
    return found.group(1) if found else "sparkify-etl"


def stack_outputs(cloudformation, stack: str) -> dict[str, str]:
    """The outputs of `stack`, by key."""
    [described] = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def follow(sfn, arn: str, out=print, timeout: float = 7200, poll: float = 2.0) -> dict:
    """Follows execution `arn` to its end, printing each state as `./dev run` does; returns
    DescribeExecution's answer."""
    show = local._progress(out)
    started, seen = time.monotonic(), 0
    while True:
        described = sfn.describe_execution(executionArn=arn)
        pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        history = [event for page in pages for event in page["events"]]
        for event in history[seen:]:
            show(event, started)
        seen = len(history)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() - started > timeout:
            raise local.RunError(f"{arn} still running after {timeout:.0f} s")
        time.sleep(poll)


def smoke(cloudformation, sfn, stack: str, out=print, poll: float = 2.0) -> int:
    """The whole check: outputs, one execution, its report. Returns the exit code."""
    outputs = stack_outputs(cloudformation, stack)
    machine = outputs.get("StateMachineArn")
    if not machine:
        out(f"stack {stack} has no StateMachineArn output: is it this project's stack?")
        return 2
    name = f"smoke-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}"
    out(f"==> stack {stack}: starting {name} on {machine}")
    arn = sfn.start_execution(stateMachineArn=machine, name=name, input="{}")["executionArn"]
    described = follow(sfn, arn, out=out, poll=poll)
    status = described["status"]
    if status != "SUCCEEDED":
        out(f"\nexecution {status}: {described.get('error')}\n{described.get('cause')}")
        return 1
    output = json.loads(described["output"])
    execution = local.Execution(
        name=described["name"], arn=arn, status=status, output=output, error=None, cause=None,
        history=[],
    )
    ok = local.print_report(execution, None, out=out)
    out(f"\n{'passed' if ok else 'FAILED'}: {name}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("stack", nargs="?", default=default_stack(),
                        help="the deployed stack's name (default: samconfig.toml's stack_name)")
    parser.add_argument("--region", help="the stack's region (default: AWS_REGION or the profile's)")
    args = parser.parse_args(argv)
    import boto3

    session = boto3.session.Session(region_name=args.region)
    try:
        return smoke(session.client("cloudformation"), session.client("stepfunctions"), args.stack)
    except local.RunError as err:
        print(f"smoke: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
