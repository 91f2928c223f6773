"""The runbook as commands: `./dev status`, `./dev runs`, `./dev quarantine list|retry|release`
and `./dev backfill`, for a deployed stack or the local pipeline.

Every figure comes from where the pipeline keeps it, through the AWS SDK: the runs from Step
Functions (ListExecutions, DescribeExecution), everything else from the warehouse through the
Redshift Data API, with the queries of sql/ops/ (and verify-counts' sql/verify/freshness.sql and
sql/verify/waiting_plays.sql). Nothing is kept here.

Which pipeline:
- a deployed stack (the default; `--stack NAME`, else samconfig.toml's `stack_name`, and
  `--region`): its outputs and parameters (CloudFormation DescribeStacks) name the state machine,
  the warehouse (`WorkgroupArn`, or `ClusterIdentifier` with `DbUser` or `SecretArn`), the
  database and the data bucket. You sign in to the warehouse as yourself (the Data API maps your
  IAM identity to a database user), which needs the operators' database role (docs/deploy.md,
  Readers); on a cluster, `--db-user` or `--secret-arn` sign in otherwise.
- `--local`: the local pipeline `./dev run --keep` left running. It wrote the endpoints of its
  stand-ins to .local/pipeline.json (moto serves CloudFormation and Step Functions, redshift-local
  the Data API and S3), and a stack of the same outputs and parameters, so every command takes
  the same path as against AWS, signed in as the local operator (who has the operators' role).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import smoke  # noqa: E402
import sparkify_local as local  # noqa: E402

SQL = local.ROOT / "sql"
# The steps whose `moved` a run reports, in their order.
MOVING_STEPS = ("copy_staging", "load_facts", "load_dimensions")


class OpsError(Exception):
    """A command that cannot do what it was asked: the message says why, and what to do."""


# -- the pipeline ----------------------------------------------------------------------------------


@dataclass
class Pipeline:
    """One deployed (or local) pipeline as its stack describes it, with the clients to reach it."""

    stack: str
    machine: str
    warehouse: dict[str, str]  # the Data API's target: WorkgroupName, or ClusterIdentifier (+ user)
    database: str
    bucket: str
    log_prefix: str
    sfn: object
    data_api: object
    s3: object

    @property
    def where(self) -> str:
        target = self.warehouse.get("WorkgroupName") or f"cluster {self.warehouse.get('ClusterIdentifier')}"
        return f"stack {self.stack}: warehouse {target.rsplit('/', 1)[-1]}, database {self.database}"

    # -- the warehouse, through the Data API -----------------------------------------------------

    def run_sql(self, file: str, **parameters: str) -> dict:
        """Runs sql/`file` with its `:name` parameters; returns DescribeStatement's answer once it
        finished, with `rows` (each a dict by column name) when it has a result set."""
        request = {**self.warehouse, "Database": self.database, "Sql": (SQL / file).read_text()}
        if parameters:
            request["Parameters"] = [{"name": k, "value": v} for k, v in parameters.items()]
        statement = self.data_api.execute_statement(**request)["Id"]
        pause = 0.05
        while True:
            described = self.data_api.describe_statement(Id=statement)
            if described["Status"] == "FINISHED":
                break
            if described["Status"] in ("FAILED", "ABORTED"):
                raise OpsError(f"sql/{file}: {described['Status'].lower()}: {described.get('Error')}")
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
        if described.get("HasResultSet"):
            rows, columns = [], None
            for page in self.data_api.get_paginator("get_statement_result").paginate(Id=statement):
                columns = columns or [c["name"] for c in page["ColumnMetadata"]]
                rows += [dict(zip(columns, (_value(field) for field in record)))
                         for record in page["Records"]]
            described["rows"] = rows
        return described

    def rows(self, file: str, **parameters: str) -> list[dict]:
        return self.run_sql(file, **parameters)["rows"]

    # -- the runs, through Step Functions --------------------------------------------------------

    def runs(self, *, last: int = 10, failed: bool = False) -> list[dict]:
        """The last `last` executions, the newest first (only those that failed, timed out or were
        aborted with `failed`), each as `run_summary` reads it."""
        found = []
        for status in (("FAILED", "TIMED_OUT", "ABORTED") if failed else (None,)):
            request = {"stateMachineArn": self.machine, "maxResults": min(last, 1000)}
            if status:
                request["statusFilter"] = status
            found += self.sfn.list_executions(**request)["executions"]
        found.sort(key=lambda e: e["startDate"], reverse=True)
        return [run_summary(self.sfn.describe_execution(executionArn=e["executionArn"]),
                            lambda arn=e["executionArn"]: self.steps_so_far(arn))
                for e in found[:last]]

    def steps_so_far(self, arn: str) -> dict:
        """What the steps of a run that has no output (it failed, or still runs) returned so far:
        the `steps` of the last task's output in its history (each step's result is kept there,
        `$.steps.<step>`)."""
        pages = self.sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        outputs = [event["stateExitedEventDetails"].get("output") or "{}"
                   for page in pages for event in sorted(page["events"], key=lambda e: e["id"])
                   if event["type"] == "TaskStateExited"]
        for output in reversed(outputs):
            steps = json.loads(output).get("steps") if output.startswith("{") else None
            if steps:
                return steps
        return {}

    def start(self, name: str, run_input: dict) -> str:
        return self.sfn.start_execution(stateMachineArn=self.machine, name=name,
                                        input=json.dumps(run_input))["executionArn"]

    def follow(self, arn: str, out=print, poll: float = 1.0) -> list[local.Execution]:
        """Follows a run to its end with `./dev run`'s progress lines, then each continuation it
        started, in turn; returns them all."""
        chain = []
        while True:
            described = smoke.follow(self.sfn, arn, out=out, poll=poll)
            output = described.get("output")
            execution = local.Execution(
                name=described["name"], arn=arn, status=described["status"],
                output=json.loads(output) if output else None, error=described.get("error"),
                cause=described.get("cause"), history=[])
            chain.append(execution)
            if not execution.continuation:
                return chain
            out(f"==> {execution.name} left the rest to {execution.continuation}; following it")
            try:
                arn = local.continuation_arn(self.sfn, execution, timeout=120, poll=poll)
            except local.RunError as err:
                raise OpsError(str(err)) from err


def _value(field: dict):
    """A Data API field as a Python value."""
    if field.get("isNull"):
        return None
    return next(iter(field.values()))


def trigger_of(run_input: dict | list | None) -> str:
    """What started a run, from its input (statemachine/start.asl.json names the same)."""
    if not isinstance(run_input, dict):
        return "unknown"
    kind = run_input.get("detail-type")
    if kind == "Scheduled Event":
        return "nightly"
    if kind in ("Object Created", "New log files"):
        return "new files"
    if "backfill" in run_input:
        days = run_input["backfill"]
        return f"backfill {days.get('from')}..{days.get('to')}"
    if "continue" in run_input:
        return "continuation"
    return "by hand"


def run_summary(described: dict, steps_so_far=dict) -> dict:
    """One execution as the runs table shows it: its trigger, outcome, duration and the rows it
    moved (each step's `moved`, summed by what; for a run without output, `steps_so_far()`)."""
    started, stopped = described["startDate"], described.get("stopDate")
    end = stopped or dt.datetime.now(started.tzinfo)
    output = json.loads(described["output"]) if described.get("output") else steps_so_far()
    moved: dict[str, int] = {}
    for step in MOVING_STEPS:
        for figure in ((output or {}).get(step) or {}).get("moved") or []:
            moved[figure["what"]] = moved.get(figure["what"], 0) + figure["count"]
    report = ((output or {}).get("verify_counts") or {}).get("report") or {}
    checks = report.get("checks") or []
    return {
        "name": described["name"],
        "trigger": trigger_of(json.loads(described["input"]) if described.get("input") else None),
        "status": described["status"],
        "started": started.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "seconds": round((end - started).total_seconds(), 1),
        "moved": moved,
        "checks_failed": sum(1 for c in checks if not c["passed"]),
        "error": described.get("error"),
        "cause": described.get("cause"),
    }


def warehouse_of(stack: str, parameters: dict, outputs: dict, db_user: str | None = None,
                 secret_arn: str | None = None) -> dict[str, str]:
    """The Data API's target for a stack (template.yaml): the workgroup it was given or created,
    or its cluster, signed in as `db_user` or with `secret_arn` if given, else as the stack's own
    DbUser or SecretArn, else as the caller's IAM identity."""
    if parameters.get("ClusterIdentifier"):
        warehouse = {"ClusterIdentifier": parameters["ClusterIdentifier"]}
        if db_user:
            warehouse["DbUser"] = db_user
        elif secret_arn or parameters.get("SecretArn"):
            warehouse["SecretArn"] = secret_arn or parameters["SecretArn"]
        elif parameters.get("DbUser"):
            warehouse["DbUser"] = parameters["DbUser"]
        return warehouse
    workgroup = parameters.get("WorkgroupArn") or outputs.get("WorkgroupArn")
    if not workgroup:
        raise OpsError(f"stack {stack} names no warehouse (WorkgroupArn or ClusterIdentifier)")
    return {"WorkgroupName": workgroup}


def connect(args) -> Pipeline:
    """The pipeline the command line names (module docstring)."""
    import boto3

    if args.local:
        if not args.served.exists():
            raise OpsError("no local pipeline is running: start one with ./dev run --keep "
                           "(it serves until Ctrl-C)")
        served = json.loads(args.served.read_text())
        try:
            os.kill(served["pid"], 0)
        except ProcessLookupError:
            raise OpsError(f"the local pipeline {args.served} names (pid {served['pid']}) has "
                           f"ended: start one with ./dev run --keep") from None
        session = boto3.session.Session(
            aws_access_key_id=served["access_key"], aws_secret_access_key=served["secret_key"],
            region_name=served["region"])
        endpoints = served["endpoints"]
        stack = served["stack"]
    else:
        session = boto3.session.Session(region_name=args.region)
        endpoints = {}
        stack = args.stack or smoke.default_stack()

    def client(service: str):
        return session.client(service, endpoint_url=endpoints.get(service))

    cloudformation = client("cloudformation")
    try:
        [described] = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except cloudformation.exceptions.ClientError as err:
        raise OpsError(f"stack {stack}: {err}") from err
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "")
                  for p in described.get("Parameters", [])}
    machine = outputs.get("StateMachineArn")
    if not machine:
        raise OpsError(f"stack {stack} has no StateMachineArn output: is it this project's stack?")
    warehouse = warehouse_of(stack, parameters, outputs, getattr(args, "db_user", None),
                             getattr(args, "secret_arn", None))
    return Pipeline(
        stack=stack, machine=machine, warehouse=warehouse,
        database=parameters.get("Database") or "dev", bucket=parameters.get("DataBucket", ""),
        log_prefix=parameters.get("LogPrefix") or "log_data/", sfn=client("stepfunctions"), data_api=client("redshift-data"), s3=client("s3"),
    )


# -- the commands --------------------------------------------------------------------------------


def table(rows: list[dict], columns: list[tuple[str, str]], out=print, indent: str = "  ") -> None:
    """`rows` as a text table of `columns` ((key, heading) pairs); numbers right-aligned."""
    if not rows:
        out(f"{indent}(none)")
        return
    cells = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    widths = [max(len(heading), *(len(r[i]) for r in cells)) for i, (_, heading) in enumerate(columns)]
    numeric = [all(isinstance(row.get(key), (int, float)) or row.get(key) is None for row in rows)
               for key, _ in columns]

    def line(values):
        return indent + "  ".join(v.rjust(w) if n else v.ljust(w)
                                  for v, w, n in zip(values, widths, numeric)).rstrip()

    out(line([heading for _, heading in columns]))
    for r in cells:
        out(line(r))


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, dict):
        return ", ".join(f"{count:,} {what}" for what, count in value.items()) or "-"
    return str(value)


RUN_COLUMNS = [("name", "run"), ("trigger", "trigger"), ("status", "outcome"),
               ("started", "started (UTC)"), ("seconds", "seconds"), ("moved", "rows moved")]


def print_runs(runs: list[dict], out=print) -> None:
    table(runs, RUN_COLUMNS, out=out)
    for run in runs:
        if run["error"]:
            cause = (run["cause"] or "").replace("\n", " ")
            out(f"  {run['name']}: {run['error']}: {cause[:300]}")


def _age(then: str | None, now: dt.datetime) -> float | None:
    """Hours from a warehouse timestamp (UTC, `YYYY-MM-DD HH:MM:SS[.ffffff]`) to `now`."""
    if not then:
        return None
    parsed = dt.datetime.fromisoformat(then).replace(tzinfo=dt.timezone.utc)
    return round((now - parsed).total_seconds() / 3600, 1)


def _ago(hours: float | None) -> str:
    if hours is None:
        return ""
    return f"  ({hours:,.1f} hours ago)" if hours < 48 else f"  ({hours / 24:,.1f} days ago)"


def status(pipeline: Pipeline, *, last: int = 5) -> dict:
    """Everything `./dev status` shows, as one document (its `--json`)."""
    now = dt.datetime.now(dt.timezone.utc)
    newest = pipeline.rows("verify/freshness.sql")[0]["newest_play"]
    ledger = pipeline.rows("ops/ledger.sql")
    last_loaded = max((row["last_loaded"] for row in ledger if row["last_loaded"]), default=None)
    waiting = pipeline.rows("verify/waiting_plays.sql")[0]
    return {
        "stack": pipeline.stack,
        "runs": pipeline.runs(last=last),
        "freshness": {
            "newest_play": newest, "newest_play_age_hours": _age(newest, now),
            "last_loaded": last_loaded, "last_loaded_age_hours": _age(last_loaded, now),
        },
        "ledger": ledger,
        "listed_not_loaded": pipeline.rows("ops/listed_not_loaded.sql"),
        "quarantine": pipeline.rows("ops/quarantine_list.sql"),
        "waiting_plays": {"count": waiting["waiting"], "oldest": waiting["oldest"]},
    }


def print_status(doc: dict, out=print) -> None:
    fresh = doc["freshness"]
    out("last runs (the newest first)")
    print_runs(doc["runs"], out=out)
    out("")
    out("freshness")
    out(f"  newest play (the newest day loaded): {fresh['newest_play'] or '-'}"
        f"{_ago(fresh['newest_play_age_hours'])}")
    out(f"  last object loaded:                  {fresh['last_loaded'] or '-'}"
        f"{_ago(fresh['last_loaded_age_hours'])}")
    out("")
    out("the ledger (objects loaded)")
    table(doc["ledger"], [("kind", "kind"), ("objects", "objects"), ("rows_loaded", "rows staged"),
                          ("last_loaded", "last loaded (UTC)")], out=out)
    out("")
    out("listed, not loaded yet")
    table(doc["listed_not_loaded"], [("run_id", "run"), ("kind", "kind"), ("objects", "objects"),
                                     ("listed_at", "listed at (UTC)")], out=out)
    out("")
    out(f"quarantined objects: {len(doc['quarantine'])}")
    table(doc["quarantine"], QUARANTINE_COLUMNS, out=out)
    waiting = doc["waiting_plays"]
    out("")
    out(f"plays waiting for their song: {waiting['count']:,}"
        + (f" (the oldest at {waiting['oldest']})" if waiting["count"] else ""))


QUARANTINE_COLUMNS = [("object_key", "object"), ("reason", "reason"), ("runs", "runs"),
                      ("first_seen", "first seen (UTC)"), ("last_seen", "last seen (UTC)")]


def quarantined(pipeline: Pipeline, key: str) -> dict | None:
    return next((row for row in pipeline.rows("ops/quarantine_list.sql")
                 if row["object_key"] == key), None)


def release(pipeline: Pipeline, key: str, out=print) -> dict:
    """Forgets `key`'s quarantine row; returns it. Fails when the key is not quarantined."""
    row = quarantined(pipeline, key)
    if row is None:
        raise OpsError(f"{key} is not quarantined (./dev quarantine list shows what is)")
    deleted = pipeline.run_sql("ops/quarantine_release.sql", key=key)
    if deleted.get("ResultRows", 0) < 1:
        raise OpsError(f"{key}: its quarantine row was gone before the delete (another operator, "
                       f"or a run that loaded it)")
    out(f"released {key} from quarantine ({row['reason']}; quarantined by {row['runs']} runs)")
    return row


def still_in_bucket(pipeline: Pipeline, key: str) -> bool:
    try:
        pipeline.s3.head_object(Bucket=pipeline.bucket, Key=key)
        return True
    except pipeline.s3.exceptions.ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def utc_stamp() -> str:
    return f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}"


def run_and_report(pipeline: Pipeline, name: str, run_input: dict, out=print) -> tuple[bool, list]:
    """Starts one run, follows it and its continuations, prints the last one's report; True when
    every one of them succeeded with its checks passed."""
    shown = run_input.get("detail-type") or json.dumps(run_input)
    out(f"==> {pipeline.where}: starting {name} ({shown})")
    chain = pipeline.follow(pipeline.start(name, run_input), out=out)
    ok = True
    for execution in chain:
        if execution.status != "SUCCEEDED":
            ok = False
            out(f"\n{execution.name} {execution.status}: {execution.error}\n{execution.cause}")
    last = chain[-1]
    if last.report:
        ok = local.print_report(last, None, out=out) and ok
    return ok, chain


DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def backfill(pipeline: Pipeline, first: str, last: str, out=print) -> int:
    for day in (first, last):
        if not DAY.match(day):
            raise OpsError(f"{day!r} is not a day: YYYY-MM-DD")
        try:
            dt.date.fromisoformat(day)
        except ValueError as err:
            raise OpsError(f"{day!r} is not a day on the calendar: {err}") from err
    if first > last:
        raise OpsError(f"the backfill's first day {first} is after its last {last}")
    name = f"backfill-{first}-{last}-{utc_stamp()}"
    ok, chain = run_and_report(pipeline, name, {"backfill": {"from": first, "to": last}}, out=out)
    out(f"\n{'passed' if ok else 'FAILED'}: {', '.join(e.name for e in chain)}")
    return 0 if ok else 1


def retry_input(pipeline: Pipeline, key: str) -> tuple[dict, str]:
    """The input of the run that retries `key`, and what it does. A log object's: the event S3
    sends EventBridge when it is written (template.yaml's NewLogFileRule), for the object as it is
    now (its ETag, from HeadObject), which loads that object alone, with no LIST; a song object's:
    `{}`, everything new, the only kind of run that loads song objects."""
    if not key.startswith(pipeline.log_prefix):
        return {}, "everything new (song objects load only in such a run)"
    head = pipeline.s3.head_object(Bucket=pipeline.bucket, Key=key)
    now = dt.datetime.now(dt.timezone.utc)
    event = {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Object Created",
        "source": "aws.s3", "time": f"{now:%Y-%m-%dT%H:%M:%SZ}",
        "resources": [f"arn:aws:s3:::{pipeline.bucket}"],
        "detail": {"bucket": {"name": pipeline.bucket},
                   "object": {"key": key, "size": head["ContentLength"],
                              "etag": head["ETag"].strip('"')},
                   "reason": "PutObject"},
    }
    return event, "that object alone, as its new-file event would"


def retry(pipeline: Pipeline, key: str, out=print) -> int:
    """Releases `key` and starts a run that loads it at once, followed to its end; 0 when the
    object loaded."""
    if not still_in_bucket(pipeline, key):
        raise OpsError(f"{key} is gone from s3://{pipeline.bucket}: nothing can load it "
                       f"(./dev quarantine release forgets it)")
    run_input, what = retry_input(pipeline, key)
    release(pipeline, key, out=out)
    out(f"  the run loads {what}")
    ok, chain = run_and_report(pipeline, f"retry-{utc_stamp()}", run_input, out=out)
    again = quarantined(pipeline, key)
    if again is not None:
        out(f"\n{key} is quarantined again: {again['reason']}: {again['error']}")
        return 1
    loaded = bool(pipeline.rows("ops/object_loaded.sql", key=key))
    out(f"\n{key}: {'loaded' if loaded else 'not loaded'}; the run {'passed' if ok else 'FAILED'}")
    return 0 if loaded and ok else 1


# -- the command line ------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("which pipeline")
    where.add_argument("--stack", help="the deployed stack (default: samconfig.toml's stack_name)")
    where.add_argument("--region", help="its region (default: AWS_REGION or the profile's)")
    where.add_argument("--local", action="store_true",
                       help="the local pipeline a kept ./dev run serves (see ./dev run --help)")
    # Where that pipeline says how to reach it (tests serve one of their own elsewhere).
    where.add_argument("--served", type=Path, default=local.SERVED, help=argparse.SUPPRESS)
    where.add_argument("--db-user", help="on a cluster: sign in as this database user")
    where.add_argument("--secret-arn", help="on a cluster: sign in with this secret")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print one JSON document instead")

    top = argparse.ArgumentParser(prog="./dev", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True)
    s = commands.add_parser("status", parents=[common, as_json],
                            help="the last runs, freshness, the ledger, the quarantine, waiting plays")
    s.add_argument("--last", type=int, default=5, help="how many runs (default 5)")
    r = commands.add_parser("runs", parents=[common, as_json],
                            help="the last runs: trigger, outcome, duration, rows moved")
    r.add_argument("--failed", action="store_true", help="only runs that failed, timed out or were aborted")
    r.add_argument("--last", type=int, default=10, help="how many runs (default 10)")
    q = commands.add_parser("quarantine", help="list the quarantined objects, retry or release one")
    actions = q.add_subparsers(dest="action", required=True)
    actions.add_parser("list", parents=[common, as_json], help="the quarantined objects and why")
    for action, text in (("retry", "release KEY and start a run at once, followed to its end"),
                         ("release", "forget KEY's quarantine: the next run tries it again")):
        a = actions.add_parser(action, parents=[common], help=text)
        a.add_argument("key", help="the object's key, as `list` shows it")
    b = commands.add_parser("backfill", parents=[common],
                            help="reload the days FROM..TO and follow the run to its end")
    b.add_argument("first", metavar="FROM", help="the first day, YYYY-MM-DD")
    b.add_argument("last", metavar="TO", help="the last day, YYYY-MM-DD")
    return top


def main(argv: list[str] | None = None, out=print) -> int:
    args = parser().parse_args(argv)
    try:
        pipeline = connect(args)
        if args.command == "status":
            doc = status(pipeline, last=args.last)
            if args.json:
                out(json.dumps(doc, indent=2, default=str))
            else:
                out(f"==> {pipeline.where}")
                print_status(doc, out=out)
            return 0
        if args.command == "runs":
            runs = pipeline.runs(last=args.last, failed=args.failed)
            if args.json:
                out(json.dumps(runs, indent=2, default=str))
            else:
                out(f"==> {pipeline.where}: the last {'failed ' if args.failed else ''}runs")
                print_runs(runs, out=out)
            return 0
        if args.command == "backfill":
            return backfill(pipeline, args.first, args.last, out=out)
        if args.action == "list":
            rows = pipeline.rows("ops/quarantine_list.sql")
            if args.json:
                out(json.dumps(rows, indent=2, default=str))
            else:
                out(f"==> {pipeline.where}: {len(rows)} quarantined objects")
                table(rows, QUARANTINE_COLUMNS + [("error", "error")], out=out)
            return 0
        if args.action == "retry":
            return retry(pipeline, args.key, out=out)
        release(pipeline, args.key, out=out)
        if still_in_bucket(pipeline, args.key):
            out(f"  it is still in s3://{pipeline.bucket}: the next run (the night's, or "
                f"./dev quarantine retry) tries it again")
        else:
            out(f"  it is gone from s3://{pipeline.bucket}: nothing will load it")
        return 0
    except OpsError as err:
        print(f"./dev {args.command}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
