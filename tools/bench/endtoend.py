"""The pipeline end to end on this machine, timed from the execution history: a nightly run of a
whole bucket (the real data set in the full benchmark), then one new log file from its event to
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


@dataclass
class Step:
    seconds: float = 0.0
    calls: int = 0
    call_seconds: float = 0.0
    wait_seconds: float = 0.0
    call_millis: list[float] = field(default_factory=list)


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
    return Timed(execution.seconds, steps, transitions, counts)


def nightly(data: Path, logs: Path) -> Timed:
    """One nightly run of the bucket folder `data` on a fresh warehouse."""
    trigger = json.loads((TRIGGERS / "scheduled.json").read_text())
    with local.LocalPipeline(data, logs) as pipeline:
        return with_calls(timed(pipeline.execute(trigger)), pipeline.lambda_calls)


def incremental(work: Path, logs: Path, preset: str) -> tuple[Timed, Timed, str]:
    """Generates a bucket (`preset`), loads all of it but its last log file with a nightly run,
    then lands that file and runs the execution its S3 event starts. Returns both runs and the key;
    the tables must then hold the generator's expected totals."""
    expected = local.generate_sample(work, "--preset", preset)
    bucket = work / "udacity-dend"
    last = sorted((bucket / "log_data").rglob("*.json"))[-1]
    key = last.relative_to(bucket).as_posix()
    held = work / "held-back.json"
    shutil.move(last, held)
    with local.LocalPipeline(bucket, logs) as pipeline:
        first = with_calls(timed(pipeline.execute(json.loads((TRIGGERS / "scheduled.json").read_text()))),
                           pipeline.lambda_calls)
        before = len(pipeline.lambda_calls)
        shutil.move(held, last)
        event = json.loads((TRIGGERS / "s3-object-created.json").read_text())
        event["detail"]["object"].update(key=key, size=last.stat().st_size)
        event["time"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        new_file = with_calls(timed(pipeline.execute(event)), pipeline.lambda_calls[before:])
    star = ["songplays", "users", "songs", "artists", "time"]  # staging holds only this run's rows
    if {t: new_file.counts[t] for t in star} != {t: expected[t] for t in star}:
        raise local.RunError(f"after the new file: {new_file.counts}, expected {expected}")
    return first, new_file, key


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
    """What the floor counts: the tables made, the rows loaded, the two steps' SQL (the JSON's
    conversion to rows is reported beside it, not counted)."""
    s = measured["seconds"]
    return s["create"] + s["copy_from_stdin"] + s["facts"] + s["dimensions"]


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
