"""The pipeline end to end on this machine, timed from the execution history: a nightly run of a
whole bucket (the real data set in the full benchmark), then new log files from their events to
verified tables. The history also gives the state transitions and function calls that the cost
model prices.

Where the time goes, per step (and per warehouse Task, `Warehouse` and `Release`, whose calls are
priced too): the step's wall time (its first Task entered to its last Task
exited), the time inside the function calls, and the time in Wait states (the poll interval,
`PollSeconds`, 1 s locally) between them.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sparkify_local as local  # noqa: E402

TRIGGERS = local.ROOT / "events" / "triggers"
RUN_TIMEOUT_S = json.loads((local.ROOT / "statemachine" / "etl.asl.json").read_text())["TimeoutSeconds"]


@dataclass
class Step:
    seconds: float = 0.0
    calls: int = 0
    call_seconds: float = 0.0
    wait_seconds: float = 0.0
    call_millis: list[float] = field(default_factory=list)


@dataclass
class Work:
    """What an execution asked of the warehouse, from the stand-in's own record of its statements
    (ListStatements, then DescribeStatement of each): Data API batches and single statements, the
    SQL statements in them, the COPYs among those, the seconds any of them was running (the union
    of their run times: "warehouse busy"), and the largest result a statement returned."""

    batches: int = 0
    singles: int = 0
    statements: int = 0
    copies: int = 0
    busy_seconds: float = 0.0
    largest_result_bytes: int = 0


@dataclass
class Timed:
    """One execution, as the benchmark reports it."""

    seconds: float
    steps: dict[str, Step]
    transitions: int
    counts: dict[str, int]
    # Per function, its calls as the local Lambda measured them: (calls, largest peak resident
    # set in MiB, longest call in s), within the template's MemorySize and Timeout.
    lambda_calls: dict[str, tuple[int, float, float]] = field(default_factory=dict)
    # The largest input or output of any state in its history, in characters (Step Functions'
    # limit is 262,144).
    largest_state_chars: int = 0
    work: Work | None = None
    # What the run asked of the stand-in: S3 requests by kind and by who, Data API calls by
    # action (sparkify_local's Execution.requests).
    requests: dict | None = None
    # Executions: 1, or more when the load budget handed the rest to continuations, whose times,
    # calls and work are counted in (the counts are the last one's).
    executions: int = 1

    def calls_of(self, function: str) -> int:
        return self.lambda_calls.get(function, (0, 0.0, 0.0))[0]

    def peak_mib(self) -> float:
        return max((peak for _, peak, _ in self.lambda_calls.values()), default=0.0)


def _is_copy(sql: str) -> bool:
    """A statement whose first SQL word (after its comment lines) is COPY."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return body.lstrip().upper().startswith("COPY ")


def warehouse_work(pipeline: local.LocalPipeline, before: set[str]) -> Work:
    """The statements the functions ran since `before` (the statement ids there were then)."""
    client = pipeline.functions_redshift
    work = Work()
    spans: list[tuple[float, float]] = []
    for listed in pipeline.statements():
        if listed["Id"] in before:
            continue
        described = client.describe_statement(Id=listed["Id"])
        subs = described.get("SubStatements") or [described]
        if described.get("SubStatements"):
            work.batches += 1
        else:
            work.singles += 1
        for sub in subs:
            work.statements += 1
            work.copies += _is_copy(sub.get("QueryString", ""))
            work.largest_result_bytes = max(work.largest_result_bytes, sub.get("ResultSize", -1))
            ended = _at({"timestamp": sub["UpdatedAt"]})
            spans.append((ended - sub.get("Duration", 0) / 1e9, ended))
    end = float("-inf")
    for start, stop in sorted(spans):
        if stop <= end:
            continue
        work.busy_seconds += stop - max(start, end)
        end = stop
    return work


def statement_ids(pipeline: local.LocalPipeline) -> set[str]:
    return {listed["Id"] for listed in pipeline.statements()}


def largest_state(execution: local.Execution) -> int:
    """The largest state input or output in the execution's history, in characters."""
    largest = 0
    for event in execution.history:
        for key, details in event.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                for field_name in ("input", "output"):
                    if isinstance(details.get(field_name), str):
                        largest = max(largest, len(details[field_name]))
    return largest


def with_calls(run: Timed, calls: list) -> Timed:
    """`run` with the local Lambda's measure of its function calls."""
    for call in calls:
        count, peak, longest = run.lambda_calls.get(call.function, (0, 0.0, 0.0))
        run.lambda_calls[call.function] = (count + 1, max(peak, call.peak_mib),
                                           max(longest, call.seconds))
    return run


def _at(event: dict) -> float:
    stamp = event["timestamp"]
    if isinstance(stamp, str):
        stamp = dt.datetime.fromisoformat(stamp)
    return stamp.timestamp()


def timed(execution: local.Execution) -> Timed:
    """The per-step times and the state transitions of an execution that succeeded."""
    if execution.status != "SUCCEEDED" or not (execution.report or {}).get("passed"):
        raise local.RunError(f"{execution.name}: {execution.status} {execution.error} "
                             f"{execution.cause}; report {execution.report}")
    steps: dict[str, Step] = {}
    first: dict[str, float] = {}
    entered = waiting = None
    current = None
    for event in execution.history:
        kind = event["type"]
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails") or {}
        name = details.get("name")
        if kind == "TaskStateEntered" and (name in local.STEPS or name in local.LIFECYCLE):
            current, entered = name, _at(event)
            first.setdefault(name, entered)
        elif kind == "TaskStateExited" and (name in local.STEPS or name in local.LIFECYCLE):
            step = steps.setdefault(name, Step())
            took = _at(event) - entered
            step.calls += 1
            step.call_seconds += took
            step.call_millis.append(took * 1000)
            step.seconds = _at(event) - first[name]
        elif kind == "WaitStateEntered":
            waiting = _at(event)
        elif kind == "WaitStateExited" and current is not None:
            steps.setdefault(current, Step()).wait_seconds += _at(event) - waiting
    transitions = sum(1 for e in execution.history if e["type"].endswith("StateEntered"))
    counts = {c["table"]: c["rows"] for c in execution.report["counts"]}
    return Timed(execution.seconds, steps, transitions, counts,
                 largest_state_chars=largest_state(execution))


def measured(pipeline: local.LocalPipeline, trigger: dict, calls_before: int = 0) -> Timed:
    """One execution of `trigger` on `pipeline`, timed, with its function calls and its work in
    the warehouse."""
    before = statement_ids(pipeline)
    asked = pipeline.requests()
    # As long as the state machine itself lets a run go on (its TimeoutSeconds): a million songs
    # take more than the local default of 15 minutes. A run whose load budget ran out is followed
    # by the continuations it started, to the tables the whole load builds.
    execution = pipeline.execute(trigger, timeout=RUN_TIMEOUT_S)
    chain = [execution, *pipeline.continuations(execution, timeout=RUN_TIMEOUT_S)]
    requests = local.requests_between(asked, pipeline.requests())  # before the benchmark's own
    run = with_calls(chained([timed(e) for e in chain], chain),
                     pipeline.lambda_calls[calls_before:])
    run.work = warehouse_work(pipeline, before)
    run.requests = requests
    return run


def chained(runs: list[Timed], executions: list[local.Execution]) -> Timed:
    """One run of a chain of executions: wall time from the first's start to the last's end, the
    steps' calls and times added up, the last one's counts."""
    if len(runs) == 1:
        return runs[0]
    started = _at(executions[0].history[0])
    ended = _at(executions[-1].history[-1])
    steps: dict[str, Step] = {}
    for run in runs:
        for name, step in run.steps.items():
            total = steps.setdefault(name, Step())
            total.seconds += step.seconds
            total.calls += step.calls
            total.call_seconds += step.call_seconds
            total.wait_seconds += step.wait_seconds
            total.call_millis += step.call_millis
    return Timed(ended - started, steps, sum(r.transitions for r in runs), runs[-1].counts,
                 largest_state_chars=max(r.largest_state_chars for r in runs),
                 executions=len(runs))


def nightly(data: Path, logs: Path) -> Timed:
    """One nightly run of the bucket folder `data` on a fresh warehouse."""
    trigger = json.loads((TRIGGERS / "scheduled.json").read_text())
    with local.LocalPipeline(data, logs) as pipeline:
        return measured(pipeline, trigger)


@dataclass
class Incremental:
    """A generated bucket loaded by a nightly run without its last log files (`first`), then the
    first of those landed and the next nightly run (`new_day`), then each of the rest landed in
    turn and the run its S3 event starts (`new_files`, keyed `keys`); `new_file` is the median of
    those runs, by wall time; the floor of the first run's bucket when asked for."""

    first: Timed
    new_day: Timed
    new_files: list[Timed]
    keys: list[str]
    floor: dict | None

    @property
    def median(self) -> int:
        """The place of the median new file's run (of an even number, the faster middle one)."""
        order = sorted(range(len(self.new_files)), key=lambda n: self.new_files[n].seconds)
        return order[(len(order) - 1) // 2]

    @property
    def new_file(self) -> Timed:
        return self.new_files[self.median]

    @property
    def key(self) -> str:
        return self.keys[self.median]


# One new file's run is about a second: one run's time varies by a tenth or two with what else the
# machine does, so a new file's figure is the median of this many, one after another.
NEW_FILES = 3


def incremental(work: Path, logs: Path, preset: str, *extra: str,
                with_floor: bool = False) -> Incremental:
    """Generates a bucket (`preset`, with `extra` options), loads all of it but its last
    1 + NEW_FILES log files with a nightly run (with `with_floor`, measures the floor of that
    bucket first and checks the run built the same tables), lands the first of them and runs the
    nightly run again, then lands each of the rest in turn and runs the execution its S3 event
    starts. The tables must then hold the generator's expected totals."""
    expected = local.generate_sample(work, "--preset", preset, *extra)
    bucket = work / "udacity-dend"
    day, *files = sorted((bucket / "log_data").rglob("*.json"))[-1 - NEW_FILES:]
    keys = [path.relative_to(bucket).as_posix() for path in files]
    held = {path: work / f"held-back-{n}.json" for n, path in enumerate([day, *files])}
    for path, aside in held.items():
        shutil.move(path, aside)
    floor_measured = floor(bucket) if with_floor else None
    scheduled = json.loads((TRIGGERS / "scheduled.json").read_text())
    with local.LocalPipeline(bucket, logs) as pipeline:
        first = measured(pipeline, scheduled)
        if floor_measured is not None:
            check_same_tables(first, floor_measured)
        before = len(pipeline.lambda_calls)
        shutil.move(held[day], day)
        new_day = measured(pipeline, scheduled, before)
        new_files = []
        for path, key in zip(files, keys):
            before = len(pipeline.lambda_calls)
            shutil.move(held[path], path)
            event = json.loads((TRIGGERS / "s3-object-created.json").read_text())
            event["detail"]["object"].update(key=key, size=path.stat().st_size)
            event["time"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            new_files.append(measured(pipeline, event, before))
        pipeline_counts = pipeline.counts()
    # staging counts the last run's rows; a new file's run counts the tables it writes, not the
    # catalogue (songs, artists), which the warehouse is asked for.
    star = ["songplays", "users", "songs", "artists", "time"]
    after = {**pipeline_counts, **new_files[-1].counts}
    if {t: after[t] for t in star} != {t: expected[t] for t in star}:
        raise local.RunError(f"after the new files: {after}, expected {expected}")
    return Incremental(first, new_day, new_files, keys, floor_measured)


def floor(data: Path) -> dict:
    """The floor on the same embedded PostgreSQL: the bucket's rows loaded with COPY FROM STDIN
    and the transform SQL run directly (tests/examples/floor.rs). Seconds per phase and the
    star tables' rows."""
    built = local.TARGET / "debug" / "examples" / "floor"
    answer = subprocess.run([str(built), str(data)], check=True, capture_output=True, text=True)
    return json.loads(answer.stdout)


def build_floor() -> None:
    subprocess.run(["cargo", "build", "--locked", "--quiet", "-p", "end-to-end", "--example",
                    "floor"], cwd=local.ROOT, check=True)


def floor_seconds(measured: dict) -> float:
    """What the floor counts: the tables made, the rows loaded, the SQL after the COPYs (a song
    round's publishing, load-facts', load-dimensions'; the JSON's conversion to rows is reported
    beside it, not counted)."""
    s = measured["seconds"]
    return (s["create"] + s["copy_from_stdin"] + s["events"] + s["songs"] + s["facts"]
            + s["dimensions"])


def check_same_tables(run: Timed, measured: dict) -> None:
    star = ["songplays", "users", "songs", "artists", "time"]
    mine = {t: run.counts[t] for t in star}
    theirs = {t: measured["rows"][t] for t in star}
    if mine != theirs:
        raise local.RunError(f"the floor built other tables: pipeline {mine}, floor {theirs}")


@dataclass
class Scaled:
    factor: int
    rows: int  # staging_events + staging_songs: the rows loaded
    run: Timed | None
    failure: str | None
    floor: dict | None
    label: str = ""  # the size as the table names it (default: the factor, `16×`)

    def size(self) -> str:
        return self.label or f"{self.factor}×"


@dataclass
class Million:
    """The million preset (or another size): a nightly run of every log file but the last few, the
    floor of the same bucket, a new day's nightly run, then each last file's own run."""

    runs: Incremental
    rows: int
    label: str

    @property
    def nightly(self) -> Timed:
        return self.runs.first


def million(work: Path, logs: Path, preset: str = "million", *extra: str,
            label: str = f"1M songs, {365 - 1 - NEW_FILES} days") -> Million:
    """`--preset million` (1,000,000 songs, 365 days), or `preset` with `extra` options: the floor
    and a nightly run of every log file but the last few, a new day's nightly run, then each last
    file's own run (`incremental`)."""
    shutil.rmtree(work, ignore_errors=True)
    runs = incremental(work, logs, preset, *extra, with_floor=True)
    rows = runs.first.counts["staging_events"] + runs.first.counts["staging_songs"]
    shutil.rmtree(work, ignore_errors=True)
    return Million(runs, rows, label)


def scaling(work: Path, factors: list[int], preset: str = "full") -> list[Scaled]:
    """The generator's preset (the full data set's shape) at each factor (songs and days x factor), each loaded by a
    nightly run on a fresh warehouse and by the floor. A run that fails is recorded, not fatal."""
    out = []
    for factor in factors:
        folder = work / f"x{factor}"
        shutil.rmtree(folder, ignore_errors=True)
        expected = local.generate_sample(folder, "--preset", preset, "--songs-scale", str(factor),
                                         "--days-scale", str(factor))
        rows = expected["staging_events"] + expected["staging_songs"]
        bucket = folder / "udacity-dend"
        measured = floor(bucket)
        try:
            run, failure = nightly(bucket, work / f"x{factor}-logs"), None
            check_same_tables(run, measured)
        except local.RunError as err:
            run, failure = None, str(err)[:300]
        out.append(Scaled(factor, rows, run, failure, measured))
        shutil.rmtree(folder, ignore_errors=True)
    return out
