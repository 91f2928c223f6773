"""Lambda on this machine, for the local pipeline: each function's bootstrap runs against the Lambda
Runtime API, within the template's MemorySize and Timeout, and answers Invoke in Lambda's wire form.

Why not `cargo lambda watch`: it enforces neither limit (a function may use any memory, and its
`--timeout` only answers the invoker 408), and a function process that dies mid-invocation leaves
the invocation hanging and is not started again. Lambda, as AWS documents and reports it:
- a function past its memory is killed; Invoke answers `X-Amz-Function-Error: Unhandled` with
  `{"errorType": "Runtime.ExitError", "errorMessage": "RequestId: <id> Error: Runtime exited with
  error: signal: killed"}`, which Step Functions reports as error `Runtime.ExitError` (its REPORT
  line says `Runtime.OutOfMemory`);
- one past its timeout is stopped with `{"errorType": "Sandbox.Timedout", "errorMessage":
  "RequestId: <id> Error: Task timed out after 30.00 seconds"}`;
- either way the execution environment is gone, and the next invocation starts a new one (a cold
  start); an environment takes one invocation at a time, and Lambda starts more for concurrent
  invocations;
- the Runtime API (`/2018-06-01/runtime/invocation/next`, `.../response`, `.../error`,
  `/runtime/init/error`) gives each invocation its request id and its deadline (epoch ms).

- a function whose bootstrap was built for another instruction set than its `Architectures`
  does not start: Invoke answers `X-Amz-Function-Error: Unhandled` with `{"errorType":
  "Runtime.InvalidEntrypoint", "errorMessage": "RequestId: <id> Error: fork/exec
  /var/task/bootstrap: exec format error"}` (what Lambda answers, as reported in
  awsdocs/aws-lambda-developer-guide#460). Each bootstrap's ELF machine is held against the
  function's architecture as the template sets it (`architectures`), for the parameter a test
  deploys with.

Memory is the environment process's resident set: sampled every 10 ms, and its peak (VmHWM, which
a sample between two spikes still sees, reset at each call's start) is what is held against
MemorySize, so a short spike past the limit kills as Lambda's cgroup would. Stricter than Lambda:
the Timeout clock of an environment's first call includes its start (on-demand Init is not counted
on AWS). Each invocation's peak and duration are kept
(`LocalLambda.calls`) for the benchmarks.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RUNTIME = "/2018-06-01/runtime"
SAMPLE_SECONDS = 0.01


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A process killed (or a pipeline closed) mid-request leaves a broken connection: that is
        # what happened, not an error of the server.
        pass

    def serve(self) -> None:
        """Serves on a thread of its own until `shutdown()`. shutdown() waits for serve_forever to
        look at its flag, which it does once per poll interval: at the default 0.5 s, closing a
        pipeline (the Invoke server, then each function's Runtime API, one after another) took
        1.2-1.4 s, once per scenario."""
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()


def _function_blocks(template: str, resources: dict[str, str]):
    """Globals' block of `template`, then each function's (local name, logical id, resource
    block); `resources` maps a function's local name to its logical id."""
    globals_block = template[template.index("Globals:"):template.index("\nResources:")]
    body = template[template.index("\nResources:"):]
    blocks = []
    for function, logical_id in resources.items():
        start = body.index(f"\n  {logical_id}:\n")
        end = re.search(r"\n  \w+:\n", body[start + 1:])
        blocks.append((function, logical_id,
                       body[start:start + 1 + end.start()] if end else body[start:]))
    return globals_block, blocks


def _setting(block: str, name: str, value: str = r"\S+") -> str | None:
    """The one-line setting `name: <value>` of a template block, or None."""
    found = re.search(rf"(?m)^\s+{name}: ({value})\s*$", block)
    return found.group(1) if found else None


def limits(template: str, resources: dict[str, str]) -> dict[str, tuple[int, float]]:
    """Each function's (MemorySize MB, Timeout s) as `template` gives it: its own, else Globals'.
    `resources` maps a function's local name to its logical id."""

    def value(block: str, name: str) -> str | None:
        return _setting(block, name, r"\d+")

    globals_block, blocks = _function_blocks(template, resources)
    out = {}
    for function, logical_id, block in blocks:
        properties = block[block.index("Properties:"):] if "Properties:" in block else ""
        memory = value(properties, "MemorySize") or value(globals_block, "MemorySize")
        timeout = value(properties, "Timeout") or value(globals_block, "Timeout")
        if memory is None or timeout is None:
            raise ValueError(f"template.yaml: no MemorySize or Timeout for {logical_id}")
        out[function] = (int(memory), float(timeout))
    return out


def architectures(template: str, resources: dict[str, str], parameter: str | None = None) -> dict[str, str]:
    """Each function's instruction set as `template` gives it: its own `Architectures`, else
    Globals', where `!Ref Architecture` is `parameter` (default: the parameter's Default)."""

    def value(block: str) -> str | None:
        found = re.search(r"(?m)^\s+Architectures: \[([^\]]+)\]\s*$", block)
        return found.group(1).strip() if found else None

    default = re.search(r"(?m)^  Architecture:\n(?:    .*\n)*?    Default: (\S+)", template).group(1)
    chosen = parameter or default
    globals_block, blocks = _function_blocks(template, resources)
    out = {}
    for function, logical_id, block in blocks:
        found = value(block) or value(globals_block)
        if found is None:
            raise ValueError(f"template.yaml: no Architectures for {logical_id}")
        out[function] = chosen if found == "!Ref Architecture" else found
    return out


def code(template: str, resources: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Each function's (binary, handler) as `template` gives them: the binary its `CodeUri`
    builds (rust-cargolambda builds the package in that folder, named after it, whose one binary
    has its name), and its `Handler` (its own, else Globals'), which Lambda gives a custom
    runtime's bootstrap as `_HANDLER`."""

    globals_block, blocks = _function_blocks(template, resources)
    out = {}
    for function, logical_id, block in blocks:
        uri = _setting(block, "CodeUri")
        handler = _setting(block, "Handler") or _setting(globals_block, "Handler")
        if uri is None or handler is None:
            raise ValueError(f"template.yaml: no CodeUri or Handler for {logical_id}")
        out[function] = (uri.rstrip("/").rsplit("/", 1)[-1], handler)
    return out


# ELF e_machine (bytes 18-19, little-endian) of each instruction set Lambda runs.
ELF_MACHINES = {62: "x86_64", 183: "arm64"}


def built_for(binary: Path) -> str | None:
    """The instruction set an ELF executable was built for (None for anything else)."""
    with open(binary, "rb") as f:
        header = f.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    return ELF_MACHINES.get(int.from_bytes(header[18:20], "little"))


@dataclass
class Call:
    """One invocation as Lambda's REPORT line would tell it."""
    function: str
    request_id: str
    seconds: float
    peak_mib: float
    outcome: str  # "ok", "error", "Runtime.ExitError", "Sandbox.Timedout", "Runtime.InvalidEntrypoint"


@dataclass
class _Invocation:
    request_id: str
    payload: bytes
    deadline_ms: int
    done: threading.Event = field(default_factory=threading.Event)
    answer: tuple[int, bytes, bool] | None = None  # (status, body, function error)


class _Environment:
    """One execution environment: the bootstrap process and its Runtime API endpoint."""

    def __init__(self, host: "LocalLambda", function: str) -> None:
        self.host, self.function = host, function
        self.memory_mb, self.timeout = host.limits[function]
        self.pending: _Invocation | None = None
        self.ready = threading.Condition()
        self.dead = False
        env = self

        class Api(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, body: bytes = b"", headers: dict | None = None):
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != f"{RUNTIME}/invocation/next":
                    return self._send(404)
                with env.ready:
                    while env.pending is None or env.pending.answer is not None:
                        if env.dead:
                            return self._send(410)
                        env.ready.wait(0.5)
                    invocation = env.pending
                self._send(200, invocation.payload, {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn":
                        f"arn:aws:lambda:{host.region}:{host.account}:function:{function}",
                    "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
                })

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path[len(RUNTIME):].strip("/").split("/")
                if parts[:1] == ["init"]:
                    env.finish(200, body or b'{"errorType": "Runtime.InitError"}', True)
                    self._send(202, b'{"status": "OK"}')
                    env.kill()
                    return
                if len(parts) != 3 or parts[0] != "invocation" or env.pending is None \
                        or parts[1] != env.pending.request_id:
                    return self._send(400, b'{"errorType": "InvalidRequestID"}')
                if parts[2] == "response":
                    env.finish(200, body, False)
                elif parts[2] == "error":
                    env.finish(200, body, True)
                else:
                    return self._send(404)
                self._send(202, b'{"status": "OK"}')

        self.server = _Server(("127.0.0.1", 0), Api)
        self.server.serve()
        port = self.server.server_address[1]
        binary, handler = host.code[function]
        self.process = subprocess.Popen(
            [str(host.binaries / binary)],
            env={
                **host.env,
                "_HANDLER": handler,
                "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
                "AWS_LAMBDA_FUNCTION_NAME": function,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
                "AWS_LAMBDA_LOG_STREAM_NAME": uuid.uuid4().hex,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            },
            stdout=host.log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def invoke(self, payload: bytes) -> tuple[tuple[int, bytes, bool], Call]:
        invocation = _Invocation(str(uuid.uuid4()), payload,
                                 int((time.time() + self.timeout) * 1000))
        self.reset_peak()
        with self.ready:
            self.pending = invocation
            self.ready.notify_all()
        started, peak, outcome = time.monotonic(), 0.0, None
        while not invocation.done.wait(SAMPLE_SECONDS):
            peak = max(peak, self.peak_mib())
            elapsed = time.monotonic() - started
            if peak > self.memory_mb:
                outcome = self.stop(invocation, "Runtime.ExitError",
                                    "Runtime exited with error: signal: killed")
            elif elapsed > self.timeout:
                outcome = self.stop(invocation, "Sandbox.Timedout",
                                    f"Task timed out after {self.timeout:.2f} seconds")
            elif self.process.poll() is not None:
                code = self.process.returncode
                how = f"signal: {signal.Signals(-code).name[3:].lower()}" if code < 0 \
                    else f"exit status {code}"
                outcome = self.stop(invocation, "Runtime.ExitError", f"Runtime exited with error: {how}")
        peak = max(peak, self.peak_mib())
        answer = invocation.answer
        call = Call(self.function, invocation.request_id, time.monotonic() - started, peak,
                    outcome or ("error" if answer[2] else "ok"))
        return answer, call

    def stop(self, invocation: _Invocation, error_type: str, why: str) -> str:
        """Ends the environment (if it still runs) and answers `invocation` with the error Lambda
        gives for it; returns the error type."""
        self.kill()
        self.finish(200, json.dumps({
            "errorType": error_type,
            "errorMessage": f"RequestId: {invocation.request_id} Error: {why}",
        }).encode(), True)
        return error_type

    def finish(self, status: int, body: bytes, function_error: bool) -> None:
        with self.ready:
            invocation = self.pending
            if invocation is None or invocation.answer is not None:
                return
            invocation.answer = (status, body, function_error)
            invocation.done.set()
            self.ready.notify_all()

    def reset_peak(self) -> None:
        """Starts the process's peak resident set (VmHWM) again from what it holds now, so each
        call's peak is its own ("5" to /proc/<pid>/clear_refs, Linux 4.0 on)."""
        try:
            Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")
        except OSError:
            pass

    def peak_mib(self) -> float:
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0.0
        found = re.search(r"(?m)^VmHWM:\s+(\d+) kB", status)
        return int(found.group(1)) / 1024 if found else 0.0

    def kill(self) -> None:
        self.dead = True
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        self.kill()
        self.process.wait()
        self.server.shutdown()
        self.server.server_close()


class LocalLambda:
    """The functions' Invoke endpoint (`AWS_ENDPOINT_URL_LAMBDA`): `POST /2015-03-31/functions/
    <name>/invocations` runs the invocation in an idle environment of that function, or a new one,
    and answers as Lambda does: 200 with the result, 200 with `X-Amz-Function-Error: Unhandled` and
    the error object for a function error, 404 `ResourceNotFoundException` for an unknown
    function."""

    def __init__(self, binaries: Path, env: dict[str, str], limits: dict[str, tuple[int, float]],
                 log_path: Path, *, region: str, account: str,
                 code: dict[str, tuple[str, str]],
                 architectures: dict[str, str] | None = None) -> None:
        self.binaries, self.env, self.limits = Path(binaries), env, limits
        # Each function's (binary in `binaries`, handler): `code()`.
        self.code = code
        # Each function's instruction set (`architectures()`); a function not named runs on the
        # machine's own.
        self.architectures = architectures or {}
        self.region, self.account = region, account
        self.log = open(log_path, "ab")
        self.idle: dict[str, list[_Environment]] = {name: [] for name in limits}
        self.all: list[_Environment] = []
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        # Tests set this to `refuse(function, payload) -> bool`: a refused invocation never reaches
        # the function; it is answered with a function error, which moto's engine needs to reach
        # the end of the Task state and see that the execution was stopped meanwhile.
        self.refuse = None
        host = self

        class Invoke(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                function = self.path.split("/functions/", 1)[-1].split("/", 1)[0]
                headers = {"x-amzn-RequestId": str(uuid.uuid4())}
                if function not in host.limits:
                    status, payload = 404, json.dumps({
                        "Type": "User", "message": f"Function not found: {function}"}).encode()
                    headers["x-amzn-ErrorType"] = "ResourceNotFoundException"
                elif host.refuse and host.refuse(function, json.loads(body or b"{}")):
                    status, payload = 200, json.dumps({
                        "errorType": "NotInvoked", "errorMessage": "the execution was stopped",
                    }).encode()
                    headers["X-Amz-Function-Error"] = "Unhandled"
                else:
                    (status, payload, function_error), _ = host.invoke(function, body)
                    if function_error:
                        headers["X-Amz-Function-Error"] = "Unhandled"
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = _Server(("127.0.0.1", 0), Invoke)
        self.port = self.server.server_address[1]
        self.server.serve()

    def invoke(self, function: str, payload: bytes) -> tuple[tuple[int, bytes, bool], Call]:
        wanted = self.architectures.get(function)
        if wanted is not None and built_for(self.binaries / self.code[function][0]) != wanted:
            request_id = str(uuid.uuid4())
            answer = (200, json.dumps({
                "errorType": "Runtime.InvalidEntrypoint",
                "errorMessage": f"RequestId: {request_id} Error: fork/exec /var/task/bootstrap: "
                                "exec format error",
            }).encode(), True)
            call = Call(function, request_id, 0.0, 0.0, "Runtime.InvalidEntrypoint")
            with self.lock:
                self.calls.append(call)
            return answer, call
        with self.lock:
            idle = self.idle[function]
            environment = idle.pop() if idle else None
            while environment is not None and environment.process.poll() is not None:
                # Gone while idle: Lambda would give the call a new environment.
                self.all.remove(environment)
                threading.Thread(target=environment.close, daemon=True).start()
                environment = idle.pop() if idle else None
        if environment is None:
            environment = _Environment(self, function)
            with self.lock:
                self.all.append(environment)
        answer, call = environment.invoke(payload)
        with self.lock:
            self.calls.append(call)
            if environment.dead:
                self.all.remove(environment)
                threading.Thread(target=environment.close, daemon=True).start()
            else:
                self.idle[function].append(environment)
        return answer, call

    def pids(self) -> list[int]:
        with self.lock:
            return [environment.process.pid for environment in self.all]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            environments, self.all = self.all, []
        for environment in environments:
            environment.close()
        self.log.close()
