"""What the scenario tests share: triggers, reading an execution's outcome, and the oracle."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sparkify_local as local  # noqa: E402

ROOT = local.ROOT
SCHEDULED = json.loads((ROOT / "events/triggers/scheduled.json").read_text())
NEW_FILE = json.loads((ROOT / "events/triggers/s3-object-created.json").read_text())
STAR = ["songplays", "users", "songs", "artists", "time"]


def object_created(key: str) -> dict:
    """The EventBridge event of a new object `key` in the data bucket."""
    event = json.loads(json.dumps(NEW_FILE))
    event["detail"]["object"]["key"] = key
    return event


def succeeded(execution: local.Execution) -> dict:
    """Asserts the execution succeeded with every check passed; returns its counts."""
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.report["passed"]
    return {c["table"]: c["rows"] for c in execution.report["counts"]}


def copied_objects(execution: local.Execution) -> list[str]:
    """The log objects copy-staging planned, over all its rounds."""
    keys = []
    for event in execution.history:
        if event["type"] == "TaskStateExited" and event["stateExitedEventDetails"]["name"] == "CopyStaging":
            output = json.loads(event["stateExitedEventDetails"]["output"])
            planned = output["steps"]["copy_staging"].get("planned")
            if planned:
                keys += planned["log_objects"]
    return keys


# The oracle's answers in this process, by the bucket's contents (`bucket_digest`).
_FROM_SCRATCH: dict[str, dict[str, str]] = {}


def bucket_digest(data: Path) -> str:
    """A SHA-256 of a bucket folder as redshift-local's S3 lists it: every object's key and
    bytes, through symbolic links to folders too (which `Path.rglob` does not follow)."""
    files = []
    for folder, _, names in os.walk(data, followlinks=True):
        files += [Path(folder) / name for name in names]
    digest = hashlib.sha256()
    for path in sorted(files):
        body = path.read_bytes()
        digest.update(os.fsencode(path.relative_to(data).as_posix()))
        digest.update(f"\0{len(body)}\0".encode())
        digest.update(body)
    return digest.hexdigest()


def from_scratch(data: Path, logs: Path) -> dict[str, str]:
    """Checksums of a warehouse that loaded `data` in one nightly run. A load is a function of
    the bucket's keys and bytes, so a bucket this process has already loaded from scratch is not
    loaded again (many scenarios end on the sample as generated), and then `logs` stays empty."""
    key = bucket_digest(data)
    if key not in _FROM_SCRATCH:
        with local.LocalPipeline(data, logs) as pipeline:
            succeeded(pipeline.execute(SCHEDULED))
            _FROM_SCRATCH[key] = pipeline.checksums()
    return dict(_FROM_SCRATCH[key])


def december_key(day: int) -> str:
    return f"log_data/2018/12/2018-12-{day:02d}-events.json"


def new_days(data: Path, first: int, count: int, key=december_key) -> list[str]:
    """Writes `count` new log objects, the days of December 2018 from `first` on (named by
    `key(day)`), each the sample's first day again in sessions of its own, so every event, play
    and start time is new. Returns their keys."""
    source = sorted((data / "log_data").rglob("*.json"))[0].read_text().splitlines()
    keys = []
    for day in range(first, first + count):
        lines = []
        for line in source:
            event = json.loads(line)
            event["ts"] += (29 + day) * 86_400_000
            event["sessionId"] += 100_000 * day
            lines.append(json.dumps(event))
        (data / key(day)).parent.mkdir(parents=True, exist_ok=True)
        (data / key(day)).write_text("\n".join(lines) + "\n")
        keys.append(key(day))
    return keys
