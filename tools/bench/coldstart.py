"""Cold starts of the five functions, measured as Lambda drives a `bootstrap`: a new process whose
runtime client asks a Runtime API for its first event and posts the answer back.

For each function, `runs` times: start the release `bootstrap` with a minimal Runtime API on
loopback (`RuntimeApi` below), hand it the event of a step that polls a finished statement (one
DescribeStatement against redshift-local), and time process start to the posted response; read the
process's peak RSS (VmHWM) before stopping it. The Python + boto3 peer (`python_peer.py`) makes the
same call through the same harness in the same run. Each function starts the bootstrap and handler
the template gives it (`local_lambda.code`: the stack's one bootstrap, `_HANDLER` naming the
function), as Lambda starts it. Sizes: that bootstrap and its zip, the same for every function.

Not measured: Lambda's own sandbox set-up and code download, which no local run has; the OS page
cache is warm after the first run, as it is for a Lambda host that has the code.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import local_lambda  # noqa: E402
import sparkify_local as local  # noqa: E402

FUNCTIONS = ["create-tables", "copy-staging", "load-facts", "load-dimensions", "verify-counts"]
PEER = Path(__file__).resolve().parent / "python_peer.py"


class RuntimeApi:
    """The Lambda Runtime API's invocation endpoints for one process and one invocation: the first
    `next` gets the event, the response (or error) is recorded, later `next` calls wait. One per
    process, so a stopped process's last `next` can never take the following process's event."""

    def __init__(self, event: dict) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    self.send_error(404)
                    return
                with api.lock:
                    event, api.event = api.event, None
                if event is None:  # the invocation is over: hold the runtime until it is stopped
                    api.stopped.wait(60)
                    return
                body = json.dumps(event).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", api.request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 "arn:aws:lambda:us-west-2:123456789012:function:bench")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                at = time.perf_counter()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                api.answer = (at, self.path.rsplit("/", 1)[-1], body)
                api.answered.set()

        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.event, self.request_id = event, str(uuid.uuid4())
        self.answer = None
        self.answered = threading.Event()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Start:
    millis: float
    peak_rss_kib: int


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for {pid}")


def invoke(argv: list[str], env: dict, event: dict) -> tuple[Start, dict]:
    """Starts `argv` as a fresh process, gives it `event` through its own Runtime API and waits for
    its response; returns the timing and peak RSS, and the answer."""
    api = RuntimeApi(event)
    env = {**env, "AWS_LAMBDA_RUNTIME_API": api.address}
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not api.answered.wait(30):
            raise RuntimeError(f"{argv[-1]}: no answer in 30 s")
        at, kind, body = api.answer
        if kind != "response":
            raise RuntimeError(f"{argv[-1]}: {kind}: {body[:500]!r}")
        return Start((at - started) * 1000, peak_rss_kib(process.pid)), json.loads(body)
    except RuntimeError as err:
        process.kill()
        raise RuntimeError(f"{err}\n{process.communicate()[1].decode(errors='replace')[-2000:]}")
    finally:
        process.kill()
        process.wait()
        api.close()


def finished(answer: dict) -> bool:
    """A step's answer after polling a finished statement: done (a step), FINISHED (the peer)."""
    return answer.get("done") is True or answer.get("status") == "FINISHED"


def wait_finished(redshift, statement: str) -> None:
    deadline = time.monotonic() + 60
    while (status := redshift.describe_statement(Id=statement)["Status"]) != "FINISHED":
        if status in ("FAILED", "ABORTED") or time.monotonic() > deadline:
            raise RuntimeError(f"statement {statement}: {status}")
        time.sleep(0.05)


def zipped_size(path: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(path, "bootstrap")
    return buffer.tell()


# A day of the bundled sample: a backfill of it is one round of one log object (the songs are
# all loaded by then).
SAMPLE_DAY = "2018-11-01"


def copy_round_poll(argv: list[str], env: dict, redshift) -> dict:
    """copy-staging's last poll as the state machine sends it: the round it submitted (a one-day
    backfill), finished. Its calls run with no statement wait, so each returns at once, as a
    call whose statement outlasts the wait does."""
    env = {**env, "AWS_LAMBDA_FUNCTION_NAME": "copy-staging", "STATEMENT_WAIT_SECONDS": "0"}
    event = {"execution": "bench", "statement_id": None,
             "trigger": {"backfill": {"from": SAMPLE_DAY, "to": SAMPLE_DAY}}}
    carried = ("statement_id", "attempt", "phase", "round", "more", "staged", "round_objects")
    for _ in range(10):
        _, answer = invoke(argv, env, event)
        if answer["done"]:
            raise RuntimeError(f"copy-staging: done before a round to poll: {answer}")
        event = {**event, **{key: answer[key] for key in carried}}
        wait_finished(redshift, answer["statement_id"])
        if answer["phase"] == "copy":
            return event
    raise RuntimeError("copy-staging: no round after 10 calls")


def measure(runs: int, bootstraps: Path, logs: Path) -> dict:
    """Loads the bundled sample with the local pipeline, has create-tables and verify-counts
    submit their real batches (so each step has a finished statement of its own kind to poll),
    then cold-starts every function and the Python peer `runs` times each on that last poll;
    returns the rows of the table."""
    local.generate_sample(logs / "sample")
    with local.LocalPipeline(logs / "sample" / "udacity-dend", logs) as pipeline:
        trigger = json.loads((local.ROOT / "events" / "triggers" / "scheduled.json").read_text())
        loaded = pipeline.execute(trigger)
        if loaded.status != "SUCCEEDED":
            raise RuntimeError(f"loading the sample: {loaded.status} {loaded.error} {loaded.cause}")
        env = {
            "PATH": os.environ["PATH"],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
            "AWS_ENDPOINT_URL_REDSHIFT_DATA": pipeline.data_api_url,
            "AWS_ENDPOINT_URL_S3": pipeline.s3_url,
        }
        for line in (local.ROOT / "local" / "functions.env").read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                name, value = line.split("=", 1)
                env[name] = value
        env["AWS_DEFAULT_REGION"] = env["AWS_REGION"]  # Lambda sets both
        code = local_lambda.code((local.ROOT / "template.yaml").read_text(),
                                 local.FUNCTION_RESOURCES)
        path = {fn: bootstraps / code[fn][0] / "bootstrap" for fn in FUNCTIONS}
        binary = {fn: [str(path[fn])] for fn in FUNCTIONS}
        env_of = {fn: {**env, "AWS_LAMBDA_FUNCTION_NAME": fn, "_HANDLER": code[fn][1]}
                  for fn in FUNCTIONS}
        rows = {}
        first_call = {"execution": "bench", "statement_id": None}
        # Each step's last poll is of a finished statement of its own: a step reports what its
        # batch moved, and refuses a statement whose rows do not fit its batch.
        events = {}
        for fn in ("create-tables", "load-facts", "load-dimensions", "verify-counts"):
            _, answer = invoke(binary[fn], env_of[fn], first_call)
            wait_finished(pipeline.redshift, answer["statement_id"])
            events[fn] = {**first_call, "statement_id": answer["statement_id"], "attempt": 0}
        events["copy-staging"] = copy_round_poll(binary["copy-staging"], env_of["copy-staging"],
                                                 pipeline.redshift)
        # The peer makes the one DescribeStatement of create-tables' poll.
        poll = events["create-tables"]
        subjects = [(fn, binary[fn], events[fn]) for fn in FUNCTIONS]
        subjects.append(("python + boto3", [sys.executable, str(PEER)], poll))
        for name, argv, event in subjects:
            function_env = env_of.get(name, {**env, "AWS_LAMBDA_FUNCTION_NAME": name})
            starts = []
            for _ in range(runs):
                start, answer = invoke(argv, function_env, event)
                if not finished(answer):
                    raise RuntimeError(f"{name}: unexpected answer {answer}")
                starts.append(start)
            row = {
                "median_ms": statistics.median(s.millis for s in starts),
                "min_ms": min(s.millis for s in starts),
                "max_ms": max(s.millis for s in starts),
                "peak_rss_mib": max(s.peak_rss_kib for s in starts) / 1024,
            }
            if name in FUNCTIONS:
                row["bootstrap_mb"] = path[name].stat().st_size / 1e6
                row["zip_mb"] = zipped_size(path[name]) / 1e6
            rows[name] = row
    return rows
