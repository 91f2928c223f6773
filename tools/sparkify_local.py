"""Runs the deployable state machine on this machine.

The definition in statemachine/etl.asl.json is rendered with local DefinitionSubstitutions
(function names, a local SNS topic, 1 s polls) and executed by moto's Step Functions engine. Its
lambda:invoke tasks reach the functions through AWS_ENDPOINT_URL_LAMBDA, where
`tools/local_lambda.py` runs each bootstrap on the Lambda Runtime API within the template's
MemorySize and Timeout; the functions reach `redshift-local` (the Redshift Data API and S3)
through AWS_ENDPOINT_URL_REDSHIFT_DATA and AWS_ENDPOINT_URL_S3. The failure notification goes to
a moto SNS topic with an SQS queue subscribed, so it can be read back.

`LocalPipeline` is the library the tests use; `main` is what `./dev run` calls.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import local_lambda  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
# The real Sparkify data set laid out as its bucket: SPARKIFY_DATA (set by `./dev test` from DATA)
# names the folder that holds it, ../shared/data beside the repository by default.
DATA_SET = Path(os.environ.get("SPARKIFY_DATA") or ROOT.parent / "shared" / "data") / "udacity-dend"
REGION = "us-west-2"
ACCOUNT = "123456789012"
FUNCTIONS = ["create-tables", "copy-staging", "load-facts", "load-dimensions", "verify-counts"]
# Task state -> the key its result lands under in $.steps.
STEPS = {
    "CreateTables": "create_tables",
    "CopyStaging": "copy_staging",
    "LoadFacts": "load_facts",
    "LoadDimensions": "load_dimensions",
    "VerifyCounts": "verify_counts",
}
# The warehouse's Tasks around the steps (functions/warehouse): the look before the load and the
# release after it.
LIFECYCLE = ("Warehouse", "Release")
MANIFEST_BUCKET = "sparkify-work"  # local/functions.env
TABLES = ["staging_events", "staging_songs", "songplays", "users", "songs", "artists", "time"]
# What only the runs that load songs count: a run of new log files leaves them as they were.
CATALOGUE_TABLES = {"staging_songs", "songs", "artists"}
# staging_events' columns from the logs (sql/create/staging_events.sql), without the bookkeeping.
EVENT_COLUMNS = ["artist", "auth", "first_name", "gender", "item_in_session", "last_name", "length",
                 "level", "location", "method", "page", "registration", "session_id", "song",
                 "status", "ts", "user_agent", "user_id"]
# The template's logical id of each function.
FUNCTION_RESOURCES = {
    "create-tables": "CreateTablesFunction",
    "copy-staging": "CopyStagingFunction",
    "load-facts": "LoadFactsFunction",
    "load-dimensions": "LoadDimensionsFunction",
    "verify-counts": "VerifyCountsFunction",
}
# Every function the state machine invokes, with its logical id (local Lambda reads their limits).
LAMBDA_RESOURCES = {**FUNCTION_RESOURCES, "warehouse": "WarehouseFunction",
                    "empty-manifests": "EmptyManifestsFunction"}
# Where the functions load, as the stack deploys them by default: a Serverless workgroup they
# sign in to with their IAM role (local/functions.env). "cluster" is a provisioned cluster they
# sign in to as a database user (DbUser).
TARGETS = {
    "workgroup": {},
    "cluster": {"REDSHIFT_WORKGROUP": "", "REDSHIFT_CLUSTER_ID": "sparkify", "REDSHIFT_DB_USER": "etl"},
}
# The analysts' database role (the stack's ReaderRole) and the identity the local analytics signs
# in as: a superuser's one-time setup makes one and gives it the other (docs/deploy.md, Readers),
# so `./dev run`'s queries read the star schema as an analyst does, through create-tables' grant.
READER_ROLE = "sparkify_reader"
ANALYST_KEY = "user:analyst"
# The operators' database role (the stack's OperatorRole) and the identity the runbook's commands
# (tools/ops.py) sign in as against the local pipeline: they work with what the role grants.
OPERATOR_ROLE = "sparkify_operator"
OPERATOR_KEY = "user:operator"
# The stack the local pipeline describes itself with in moto's CloudFormation (its PIPELINE_NAME,
# local/functions.env): the outputs and parameters tools/ops.py reads of a deployed stack.
LOCAL_STACK = "sparkify-local"
# Where `./dev run --keep` says how to reach the pipeline it keeps running (LocalPipeline.serve).
SERVED = ROOT / ".local" / "pipeline.json"
# The cluster the "cluster" target loads into: redshift-local serves it with its management API
# (DescribeClusters, PauseCluster, ResumeCluster), with the COPY role attached.
CLUSTER = TARGETS["cluster"]["REDSHIFT_CLUSTER_ID"]


class RunError(Exception):
    """The local run could not start or did not end as asked."""


def function_identity(template: str | None = None) -> str:
    """The access key ID the local functions sign in with: `role:<the role the template gives
    them>`, which redshift-local signs in as database user IAMR:<role>, as the Data API signs a
    deployed function's role in. The local Lambda gives every function one environment, so
    the five must share one role; a template that gives them different roles is refused here
    rather than run as something it is not."""
    text = template if template is not None else (ROOT / "template.yaml").read_text()
    roles = {}
    for function, resource in FUNCTION_RESOURCES.items():
        block = re.search(rf"(?ms)^  {resource}:\n(.*?)(?=^  \S)", text)
        role = block and re.search(r"(?m)^\s+Role:\s*!GetAtt\s+(\w+)\.Arn\s*$", block.group(1))
        if not role:
            raise RunError(f"template.yaml: {resource} names no Role (!GetAtt <Role>.Arn)")
        roles[function] = role.group(1)
    if len(set(roles.values())) != 1:
        raise RunError(f"template.yaml gives the functions different roles {roles}: each would be "
                       "its own database user, and the local pipeline runs them as one")
    return f"role:{next(iter(roles.values()))}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


# What `./dev run` runs: the stand-in, the generator, the analysts' command, `./dev warehouse`,
# and the binary every function the local Lambda serves (LAMBDA_RESOURCES) runs, as the template
# builds it (`local_lambda.code`: the one bootstrap, functions/bootstrap). A pipeline must find
# that binary built by this build, not by whatever ran before. With them, each function's own
# binary, which `cargo lambda watch` runs (tools/invoke-events.sh, invoke-pipeline.sh, whose Tasks
# time out in 60 s): debug links only, so a first invocation finds it built.
BINARIES = ["redshift-local", "sparkify-gen", "sparkify-analytics", "sparkify-warehouse",
            *sorted({binary for binary, _ in local_lambda.code(
                (ROOT / "template.yaml").read_text(), LAMBDA_RESOURCES).values()}),
            *LAMBDA_RESOURCES]
# A first build's wall time on two cores, in minutes, as docs/cold-start.md measured it; later
# builds find everything built and take seconds.
FIRST_BUILD_MINUTES = 6
# How often a build says where it is when cargo has been quiet.
BUILD_HEARTBEAT_SECONDS = 20


def build(quiet: bool = False, timings: bool = False, out=print) -> None:
    """Builds everything `./dev run` runs (debug), in one cargo invocation. The workspace has one
    feature set (crates/workspace-hack), so this is also the build `cargo lambda` finds when it
    builds or runs a function (`cargo run --bin <function>`: `cargo lambda watch`, which
    tools/invoke-events.sh uses), and `./dev test`'s test build takes every dependency from it
    (it compiles only the workspace's own crates again, through clippy-driver:
    tools/clippy-build.sh). The local pipeline runs the binaries it built (tools/local_lambda.py).

    A first build says what it compiles and roughly how long it takes, then where it is every
    BUILD_HEARTBEAT_SECONDS; cargo's own lines are kept and shown only if it fails. `quiet`
    (the tests' fixture) says nothing unless it fails; `timings` writes cargo's --timings report."""
    first = not all((TARGET / "debug" / name).exists() for name in BINARIES)
    argv = ["cargo", "build", "--locked", "--message-format=json-render-diagnostics"]
    argv += [arg for name in BINARIES for arg in ("-p", name)]
    if timings:
        argv.append("--timings")
    say = (lambda line: None) if quiet else (lambda line: out(line, flush=True))
    if first:
        minutes = FIRST_BUILD_MINUTES * 2 / max(1, min(os.cpu_count() or 2, 8))
        say(f"==> first build: compiling the local Redshift (redshift-local, with PostgreSQL 17 "
            f"embedded), the five functions and the AWS SDK they use, in {TARGET}/debug.\n"
            f"    This happens once: about {max(1, round(minutes))} minutes on "
            f"{os.cpu_count()} cores (docs/cold-start.md); later runs start in seconds.")
    else:
        say("==> cargo build (the stand-in, the generator and the five functions)")
    total = _packages_to_build(argv) if first else None
    started = time.monotonic()
    errors: list[str] = []
    compiling: dict[str, None] = {}  # started, not finished, in order
    built: set[str] = set()
    with subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None

        def status_lines():  # cargo's human lines: what it starts compiling, and any error
            for line in proc.stderr:
                errors.append(line)
                words = line.split()
                if len(words) >= 2 and words[0] == "Compiling":
                    compiling[words[1]] = None

        reader = threading.Thread(target=status_lines, daemon=True)
        reader.start()

        def heartbeat(stop: threading.Event) -> None:
            while not stop.wait(BUILD_HEARTBEAT_SECONDS if first else 60):
                elapsed = time.monotonic() - started
                of = f" of ~{total}" if total else ""
                now = ", ".join(list(compiling)[-3:])
                say(f"    {int(elapsed // 60)} min {int(elapsed % 60):02d} s: {len(built)}{of} "
                    f"crates built; {f'compiling {now}' if now else 'linking'}")

        stop = threading.Event()
        ticker = threading.Thread(target=heartbeat, args=(stop,), daemon=True)
        ticker.start()
        for line in proc.stdout:  # JSON messages: one per finished crate target
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if (message.get("reason") == "compiler-artifact"
                    and "custom-build" not in message["target"]["kind"]):
                built.add(message["package_id"])
                compiling.pop(_package_name(message["package_id"]), None)
        code = proc.wait()
        stop.set()
        reader.join(timeout=5)
    if code != 0:
        raise RunError("cargo build failed:\n" + "".join(errors[-60:]))
    elapsed = time.monotonic() - started
    if first or elapsed > 30:
        say(f"    built in {int(elapsed // 60)} min {int(elapsed % 60):02d} s")


def _package_name(package_id: str) -> str:
    """The name in a cargo package id: `registry+https://...#serde@1.0.0` -> serde; a path
    package's may be only `path+file:///.../redshift-local#0.1.0`."""
    location, _, fragment = package_id.rpartition("#")
    name, at, _ = fragment.partition("@")
    return name if at else location.rstrip("/").rsplit("/", 1)[-1]


def _packages_to_build(argv: list[str]) -> int | None:
    """How many packages the build compiles (cargo tree over the same selection), for the
    progress lines; None if cargo cannot tell."""
    selection = [a for a in argv[2:] if a not in ("--timings",) and not a.startswith("--message")]
    tree = subprocess.run(["cargo", "tree", "--prefix", "none", "-e", "normal,build",
                           "-f", "{p}", *selection], cwd=ROOT, capture_output=True, text=True)
    if tree.returncode != 0:
        return None
    return len({line.removesuffix(" (*)") for line in tree.stdout.splitlines() if line.strip()})


def generate_sample(out: Path, *extra: str) -> dict:
    """Writes the bundled sample (deterministic) to out/udacity-dend; returns its expected counts."""
    subprocess.run(
        [str(TARGET / "debug" / "sparkify-gen"), "--out", str(out), *extra],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return json.loads((out / "expected-counts.json").read_text())


class _CapCheckNoise(logging.Filter):
    """moto's engine logs an IsPresent Choice whose path is absent as an error, though the
    Choice answers false as Step Functions does: RunsWithinTheCap asks whether the running list
    has a name past the cap, and on every run within it that name is absent."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "$.running.names[" not in record.getMessage()


logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").addFilter(
    _CapCheckNoise())


def template_substitution(name: str) -> str:
    """A constant of the ETL state machine's DefinitionSubstitutions in template.yaml."""
    found = re.search(rf'(?m)^        {name}: "([^"]*)"$', (ROOT / "template.yaml").read_text())
    if not found:
        raise RunError(f"template.yaml: no DefinitionSubstitutions constant {name}")
    return found.group(1)


def render_definition(substitutions: dict[str, str], file: str = "etl.asl.json") -> str:
    """statemachine/`file` with ${Name} replaced, as CloudFormation's DefinitionSubstitutions
    does; an unknown name is an error, not a silent blank."""
    text = (ROOT / "statemachine" / file).read_text()
    names = set(re.findall(r"\$\{(\w+)\}", text))
    missing = names - substitutions.keys()
    if missing:
        raise RunError(f"no local value for DefinitionSubstitutions {sorted(missing)}")
    return _boto_casing_for_sdk_tasks(
        re.sub(r"\$\{(\w+)\}", lambda m: substitutions[m.group(1)], text)
    )


def with_task_timeouts(definition: str, seconds: int | None) -> str:
    """The definition with every Lambda Task's TimeoutSeconds set to `seconds` (None: as it is)."""
    if seconds is None:
        return definition
    asl = json.loads(definition)
    for state in asl["States"].values():
        if state.get("Resource") == "arn:aws:states:::lambda:invoke":
            state["TimeoutSeconds"] = seconds
    return json.dumps(asl)


def _boto_casing_for_sdk_tasks(definition: str) -> str:
    """Step Functions takes an AWS SDK integration's parameters, and gives its result, in
    PascalCase whatever the service's own casing (`StateMachineArn`, `Executions[*].Name`); moto's
    engine passes them to boto3 as they are, so for a camelCase API such as Step Functions' own it
    needs boto3's names. This rewrites those tasks' parameter names and result paths to them."""
    asl = json.loads(definition)

    def lower_first(name: str) -> str:
        return name[:1].lower() + name[1:]

    for state in asl["States"].values():
        if not state.get("Resource", "").startswith("arn:aws:states:::aws-sdk:sfn:"):
            continue
        state["Parameters"] = {lower_first(k): v for k, v in state.get("Parameters", {}).items()}
        state["ResultSelector"] = {
            k: re.sub(r"(?<=\.)([A-Z])", lambda m: m.group(1).lower(), v)
            for k, v in state.get("ResultSelector", {}).items()
        }
    return json.dumps(asl)


def parse_each_definition_once() -> None:
    """moto's engine parses a state machine's definition (ANTLR, in Python) when it is created and
    again at every execution: about 0.3 s of CPU for etl.asl.json, before its first state, in every
    run and every pipeline started. This keeps one parse per definition text for the process.
    What a parse gives is the definition's tree of evaluation components; an execution's state
    lives in its own Environment, and the components set their attributes as they are built
    (moto 5.2.5, `stepfunctions/parser/asl/component`; its iteration_component.py: components
    "must be stateless" to be reused concurrently), but for one: `heap_key`, a random name made on
    first use (a Retry's counters are kept under it). Two runs reaching a Retry first at once
    could each make one, so every component's is made here, before any run shares the tree. A
    definition that does not parse raises each time, as before."""
    from moto.stepfunctions.parser.asl.component.component import Component
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    parse = AmazonStateLanguageParser.parse
    if getattr(parse, "once", False):
        return
    parsed: dict[str, tuple] = {}
    lock = threading.Lock()

    def settle_heap_keys(program) -> None:
        stack, seen = [program], set()
        while stack:
            item = stack.pop()
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, EvalComponent):
                item.heap_key  # noqa: B018 (made now, once)
            if isinstance(item, Component):
                stack.extend(vars(item).values())
            elif isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, (list, tuple, set)):
                stack.extend(item)

    def parse_once(definition: str):
        with lock:
            if definition not in parsed:
                program, context = parse(definition)
                settle_heap_keys(program)
                parsed[definition] = (program, context)
            return parsed[definition]

    parse_once.once = True
    AmazonStateLanguageParser.parse = staticmethod(parse_once)


# The detail-types of the events the deployed triggers deliver (template.yaml: Nightly, NewLogFile).
TRIGGER_EVENTS = ("Scheduled Event", "Object Created")
# The nightly schedule's event, as EventBridge delivers it.
TRIGGER_NIGHTLY = json.loads((ROOT / "events/triggers/scheduled.json").read_text())


def new_event(event: dict) -> dict:
    """`event` as EventBridge would deliver it now: a new id and the current time."""
    stamped = json.loads(json.dumps(event))
    stamped["id"] = str(uuid.uuid4())
    stamped["time"] = f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}"
    return stamped


@dataclass
class Execution:
    name: str
    arn: str
    status: str
    output: dict | None
    error: str | None
    cause: str | None
    history: list[dict]
    notifications: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    input: dict | None = None
    # The execution's start (DescribeExecution's startDate, which is `$$.Execution.StartTime`);
    # the engine records ExecutionStarted in the history when it begins, which may be later.
    started: dt.datetime | None = None
    # What the run asked of the stand-in (`LocalPipeline.requests`, the difference around it):
    # exact when no other run overlapped it.
    requests: dict | None = None

    def states_entered(self, kind: str) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history
            if e["type"] == f"{kind}StateEntered"
        ]

    @property
    def report(self) -> dict | None:
        if self.output is None:
            return None
        return self.output.get("verify_counts", {}).get("report")

    @property
    def continuation(self) -> str | None:
        """The name of the run this one started for what its load budget left, if it did."""
        copy = (self.output or {}).get("copy_staging") or {}
        return copy.get("continuation") if copy.get("backlog") else None


class EmfError(ValueError):
    """A log line that claims the embedded metric format (`_aws` at its root) but breaks it."""


# CloudWatch's StandardUnit values, which the spec allows as a metric's Unit.
EMF_UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
}


def emf_metrics(line: str) -> dict | None:
    """The metrics of one log line as CloudWatch would extract them, per "Specification: Embedded
    metric format": `{"namespace", "dimensions": {name: value}, "values": {metric: (value,
    unit)}}`; None for a line that is not an EMF document (not a JSON object with `_aws`);
    EmfError for one that breaks the spec (CloudWatch would then extract nothing from it)."""
    try:
        document = json.loads(line)
    except ValueError:
        return None
    if not isinstance(document, dict) or "_aws" not in document:
        return None
    meta = document["_aws"]
    if not isinstance(meta, dict) or not isinstance(meta.get("Timestamp"), int):
        raise EmfError("_aws.Timestamp must be an integer of milliseconds since the epoch")
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list) or len(directives) != 1:
        raise EmfError("_aws.CloudWatchMetrics must hold the one directive the pipeline writes")
    directive = directives[0]
    namespace = directive.get("Namespace")
    if not isinstance(namespace, str) or not 1 <= len(namespace) <= 255:
        raise EmfError("a directive's Namespace must be a string of 1 to 255 characters")
    dimension_sets = directive.get("Dimensions")
    if not isinstance(dimension_sets, list) or not all(
            isinstance(d, list) and len(d) <= 30 for d in dimension_sets):
        raise EmfError("Dimensions must be an array of dimension sets of at most 30 keys")
    dimensions = {}
    for key in {k for d in dimension_sets for k in d}:
        if not isinstance(document.get(key), str):
            raise EmfError(f"the dimension {key} must be a string member of the root")
        dimensions[key] = document[key]
    metrics = directive.get("Metrics")
    if not isinstance(metrics, list) or len(metrics) > 100:
        raise EmfError("Metrics must be an array of at most 100 metric definitions")
    values = {}
    for metric in metrics:
        name, unit = metric.get("Name"), metric.get("Unit", "None")
        if not isinstance(name, str) or not 1 <= len(name) <= 1024:
            raise EmfError("a metric's Name must be a string of 1 to 1,024 characters")
        if unit not in EMF_UNITS:
            raise EmfError(f"{name}: {unit!r} is not a CloudWatch unit")
        value = document.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise EmfError(f"{name}: its value must be a number member of the root")
        values[name] = (value, unit)
    return {"namespace": namespace, "dimensions": dimensions, "values": values}


def emitted_metrics(log: Path, offset: int = 0) -> list[dict]:
    """The EMF documents the functions wrote to `log` (functions.log) from byte `offset` on."""
    with log.open("rb") as f:
        f.seek(offset)
        lines = f.read().decode("utf-8", "replace").splitlines()
    return [m for m in map(emf_metrics, lines) if m is not None]


# Step Functions' limit on an execution's input (and a Pipe's payload to a state machine), in
# characters: "Step Functions state machine (262144 characters)".
MAX_STATE_INPUT_CHARS = 262_144


def _over_state_limit(event: dict) -> str | None:
    """Why a history event breaks Step Functions' limit on a state's input or output, or None. The
    API reference's StateEnteredEventDetails: "Length constraints apply to the payload size, and
    are expressed as bytes in UTF-8 encoding. ... Maximum length of 262144"; a state over it fails
    the execution with States.DataLimitExceeded."""
    for key, details in event.items():
        if not (key.endswith("EventDetails") and isinstance(details, dict)):
            continue
        for part in ("input", "output"):
            text = details.get(part)
            if isinstance(text, str) and len(text.encode()) > MAX_STATE_INPUT_CHARS:
                name = details.get("name") or event.get("type")
                return (f"the {part} of {name} is {len(text.encode()):,} bytes, over Step "
                        f"Functions' 256 KiB for a state's input or output")
    return None


class LocalPipe:
    """EventBridge Pipes' SQS source in front of the starter, as template.yaml's NewFilePipe
    configures it (moto has no Pipes): batches of at most BatchSize records, gathered from the
    first record for MaximumBatchingWindowInSeconds, delivered to the Express starter as one JSON
    array of SQS records (the shape the Pipes guide gives for an SQS source) and waited for, as
    REQUEST_RESPONSE (StartSyncExecution) does. A batch whose starter execution succeeded is
    deleted from the queue; any other stays, to come back after the visibility timeout.

    Up to five batches at once, as the Pipes guide's scaling says of an SQS source ("EventBridge
    Pipes ... reads up to five batches"; a pipe has no setting that lowers it): five pollers,
    each gathering a batch and then waiting for the starter's answer to it, so a burst of new
    files is delivered as up to five batches together, each starting its run. The pollers take
    turns to gather: one fills its batch (or its window runs out) before the next starts one, so
    locally a burst that fits in one batch stays one batch, where AWS's pollers may share it out.
    AWS adds pollers while messages remain (up to 1,000 batches at once); this one stays at five."""

    POLLERS = 5

    def __init__(self, sqs, queue_url: str, sfn, starter_arn: str, *, window_seconds: float):
        template = (ROOT / "template.yaml").read_text()
        pipe = template[template.index("  NewFilePipe:\n"):]
        self.batch_size = int(re.search(r"BatchSize: (\d+)", pipe).group(1))
        if "InvocationType: REQUEST_RESPONSE" not in pipe:
            raise RunError("template.yaml: the local Pipe stands in for a REQUEST_RESPONSE pipe")
        self.sqs, self.queue_url, self.sfn, self.starter_arn = sqs, queue_url, sfn, starter_arn
        self.window_seconds = window_seconds
        self.queue_arn = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.batches: list[dict] = []
        self._halt = threading.Event()
        # One poller gathers at a time (the turns above); the queue is called by one at a time
        # (moto's SQS queue rewrites its message list on a delete, unlocked).
        self._gathering = threading.Lock()
        self._queue = threading.Lock()
        self._pollers = [
            threading.Thread(target=self._poll, name=f"local-pipe-{n + 1}", daemon=True)
            for n in range(self.POLLERS)]

    def start(self) -> None:
        for poller in self._pollers:
            poller.start()

    def stop(self) -> None:
        self._halt.set()
        for poller in self._pollers:
            if poller.is_alive():
                poller.join(timeout=30)

    def _receive(self, most: int, wait: int) -> list[dict]:
        with self._queue:
            return self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=min(10, most), WaitTimeSeconds=wait,
                AttributeNames=["All"], MessageAttributeNames=["All"],
            ).get("Messages", [])

    def _poll(self) -> None:
        while not self._halt.is_set():
            with self._gathering:
                batch = self._gather()
            if batch and not self._halt.is_set():
                self._deliver(batch)

    def _gather(self) -> list[dict]:
        """A batch: what the queue holds, then more until BatchSize or the window from its first
        record; empty when the queue is."""
        batch = self._receive(self.batch_size, 0)
        if not batch:
            self._halt.wait(0.2)
            return []
        first = time.monotonic()
        while len(batch) < self.batch_size and time.monotonic() - first < self.window_seconds:
            more = self._receive(self.batch_size - len(batch), 0)
            if more:
                batch += more
            elif self._halt.wait(0.2):
                break
        return batch

    def _deliver(self, batch: list[dict]) -> None:
        records = [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
            "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        } for m in batch]
        payload = json.dumps(records)
        if len(payload) > MAX_STATE_INPUT_CHARS:
            # Step Functions refuses it; a batch the template's BatchSize allows must never be.
            self.batches.append({"records": records, "status": "REFUSED", "output": {
                "error": f"a batch of {len(records)} records is {len(payload)} characters, over "
                         f"the starter's input limit of {MAX_STATE_INPUT_CHARS}"}})
            return
        arn = self.sfn.start_execution(stateMachineArn=self.starter_arn, name=str(uuid.uuid4()),
                                       input=payload)["executionArn"]
        while (described := self.sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            time.sleep(0.1)
        output = json.loads(described.get("output") or "null")
        self.batches.append({"records": records, "status": described["status"], "output": output})
        if described["status"] == "SUCCEEDED":
            with self._queue:
                for m in batch:
                    self.sqs.delete_message(QueueUrl=self.queue_url,
                                            ReceiptHandle=m["ReceiptHandle"])


class LocalPipeline:
    """redshift-local + the functions on a local Lambda + moto's Step Functions engine, started together and
    always stopped together (context manager)."""

    def __init__(
        self,
        data_root: Path,
        logs: Path,
        *,
        poll_seconds: int = 1,
        min_statement_ms: int = 0,
        postgres_binaries: bool = False,
        function_env: dict[str, str] | None = None,
        task_timeout_seconds: int | None = None,
        target: str = "workgroup",
        stand_in_args: list[str] | None = None,
        pause_when_idle: bool = False,
        cluster_move_seconds: float = 2.0,
        new_file_window_seconds: float = 2.0,
        limits: dict[str, tuple[int, float]] | None = None,
        runs_cap: int | None = None,
        architecture: str | None = None,
    ) -> None:
        self.data_root = Path(data_root).resolve()
        self.bucket = self.data_root.name
        self.logs = Path(logs)
        self.poll_seconds = poll_seconds
        self.min_statement_ms = min_statement_ms
        self.postgres_binaries = postgres_binaries
        # More variables for the functions (after local/functions.env, so they win).
        self.function_env = function_env or {}
        # Tests of a timed-out step shorten the steps' Task timeouts (60 s deployed); nothing else
        # of the definition changes.
        self.task_timeout_seconds = task_timeout_seconds
        # Where the functions load (TARGETS), and more options for redshift-local (regions, ...).
        if target not in TARGETS:
            raise RunError(f"unknown target {target!r}: one of {sorted(TARGETS)}")
        self.target = target
        # A cluster target only: the stack's PauseClusterWhenIdle (the functions' variable), and
        # how long the stand-in's cluster takes to pause and to resume.
        self.pause_when_idle = pause_when_idle
        self.cluster_move_seconds = cluster_move_seconds
        self.stand_in_args = stand_in_args or []
        # The state machine's RunsCap (template.yaml's, unless a test lowers it).
        self.runs_cap = runs_cap
        # The stack's Architecture parameter (its default unless a test deploys with another):
        # each function runs only if its bootstrap was built for what the template gives it.
        self.architecture = architecture
        # The stack's NewFileWindowSeconds (60 deployed): how long the local Pipe gathers a batch.
        self.new_file_window_seconds = new_file_window_seconds
        # Functions whose (MemorySize MB, Timeout s) differ from the template's (tests of the
        # limits themselves).
        self.limits = limits or {}
        self._pipe = None
        self._server = None
        self._served: Path | None = None
        self.processes: list[subprocess.Popen] = []
        self.ports: list[int] = []
        self._mock = None
        self._lambda = None

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> "LocalPipeline":
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _spawn(self, name: str, argv: list[str], port: int, env: dict | None = None) -> None:
        log = open(self.logs / f"{name}.log", "w")
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with all its children
        )
        self.processes.append(proc)
        self.ports.append(port)
        deadline = time.monotonic() + 300
        while not port_open(port):
            if proc.poll() is not None:
                raise RunError(
                    f"{name} exited with {proc.returncode}:\n{(self.logs / f'{name}.log').read_text()}"
                )
            if time.monotonic() > deadline:
                raise RunError(f"{name} does not listen on {port} after 300 s")
            time.sleep(0.02)

    def _spawn_on_free_ports(self, name: str, argv_for, count: int, env: dict | None = None) -> list[int]:
        """Spawns `argv_for(ports)` on `count` free ports, listening on the first. A free port can
        be taken by another process between choosing and binding it (the embedded PostgreSQL binds
        one of its own as the stand-in starts), so an 'address in use' start is retried on new ports."""
        for attempt in range(1, 4):
            ports = [free_port() for _ in range(count)]
            try:
                self._spawn(name, argv_for(ports), ports[0], env)
                return ports
            except RunError as err:
                if "Address already in use" not in str(err) or attempt == 3:
                    raise
                self.processes.pop()
                self.ports.pop()
        raise AssertionError("unreachable")

    def _start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        # The manifest bucket copy-staging writes to, beside the (read-only) data.
        scratch = self.logs / "s3-scratch"
        (scratch / MANIFEST_BUCKET).mkdir(parents=True, exist_ok=True)

        static = (ROOT / "local" / "functions.env").read_text()
        copy_role = re.search(r"(?m)^COPY_ROLE_ARN=(.*)$", static).group(1)
        workgroup = re.search(r"(?m)^REDSHIFT_WORKGROUP=.*/(.*)$", static).group(1)
        database = re.search(r"(?m)^REDSHIFT_DATABASE=(.*)$", static).group(1)

        def stand_in(ports: list[int]) -> list[str]:
            argv = [
                str(TARGET / "debug" / "redshift-local"),
                "--s3-root", f"{self.data_root.parent}{os.pathsep}{scratch}",
                "--data-api-port", str(ports[0]),
                "--s3-port", str(ports[1]),
                "--min-statement-ms", str(self.min_statement_ms),
                "--workgroup", workgroup,
                "--database", database,
                "--cluster", CLUSTER,
                "--cluster-role", copy_role,
                "--pause-seconds", str(self.cluster_move_seconds),
                "--resume-seconds", str(self.cluster_move_seconds),
                *self.stand_in_args,
            ]
            return argv + (["--postgres-binaries"] if self.postgres_binaries else [])

        self.workgroup = workgroup
        api, s3 = self._spawn_on_free_ports("redshift-local", stand_in, 2)
        self.data_api_url = f"http://127.0.0.1:{api}"
        self.s3_url = f"http://127.0.0.1:{s3}"

        env_file = self.logs / "functions.env"
        static = re.sub(r"(?m)^DATA_BUCKET=.*$", f"DATA_BUCKET={self.bucket}", static)
        self.identity = function_identity()
        static = re.sub(r"(?m)^AWS_ACCESS_KEY_ID=.*$", f"AWS_ACCESS_KEY_ID={self.identity}", static)
        env = {**TARGETS[self.target], "READER_ROLE": READER_ROLE, "OPERATOR_ROLE": OPERATOR_ROLE,
               **self.function_env}
        if self.pause_when_idle:
            env["PAUSE_CLUSTER_WHEN_IDLE"] = "true"
        env_file.write_text(
            static
            + f"AWS_ENDPOINT_URL_REDSHIFT_DATA={self.data_api_url}\n"
            + f"AWS_ENDPOINT_URL_S3={self.s3_url}\n"
            + f"AWS_ENDPOINT_URL_REDSHIFT={self.data_api_url}\n"
            + "".join(f"{name}={value}\n" for name, value in env.items())
        )
        # Lambda itself (tools/local_lambda.py): each function's bootstrap on the Runtime API,
        # within the template's MemorySize and Timeout (or `limits`, which tests lower).
        function_env = {
            name: value for name, value in
            (line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
        }
        function_env.update({"AWS_DEFAULT_REGION": REGION,
                             "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
                             "LAMBDA_TASK_ROOT": str(TARGET / "debug")})
        template = (ROOT / "template.yaml").read_text()
        template_limits = local_lambda.limits(template, LAMBDA_RESOURCES)
        architectures = local_lambda.architectures(template, LAMBDA_RESOURCES, self.architecture)
        # The teardown function's own: the function whose start it probes, and the stack's
        # Architecture (template.yaml, EmptyManifestsFunction), which that function runs on.
        function_env.update({"PROBE_FUNCTION": "warehouse",
                             "ARCHITECTURE": architectures["warehouse"]})
        self._lambda = local_lambda.LocalLambda(
            TARGET / "debug", function_env, {**template_limits, **self.limits},
            self.logs / "functions.log", region=REGION, account=ACCOUNT,
            code=local_lambda.code(template, LAMBDA_RESOURCES),
            architectures=architectures,
        )
        self.lambda_url = f"http://127.0.0.1:{self._lambda.port}"
        function_env["AWS_ENDPOINT_URL_LAMBDA"] = self.lambda_url
        # The engine's lambda client takes its endpoint from here; nothing else reads it.
        os.environ["AWS_ENDPOINT_URL_LAMBDA"] = f"http://127.0.0.1:{self._lambda.port}"
        for var, value in {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            os.environ.setdefault(var, value)
        from moto import mock_aws
        import boto3

        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        parse_each_definition_once()
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="sparkify-etl-failures")["TopicArn"]
        self.queue_url = self.sqs.create_queue(QueueName="failure-notifications")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        substitutions = {
            "CreateTablesFunctionArn": "create-tables",
            "CopyStagingFunctionArn": "copy-staging",
            "LoadFactsFunctionArn": "load-facts",
            "LoadDimensionsFunctionArn": "load-dimensions",
            "VerifyCountsFunctionArn": "verify-counts",
            "WarehouseFunctionArn": "warehouse",
            "FailureTopicArn": topic,
            "PollSeconds": str(self.poll_seconds),
            "CopyPollSeconds": str(self.poll_seconds),
            "WarehousePollSeconds": str(self.poll_seconds),
            "RunsCap": str(self.runs_cap) if self.runs_cap is not None else template_substitution(
                "RunsCap"),
        }
        self.state_machine_arn = self.sfn.create_state_machine(
            name="sparkify-etl",
            definition=with_task_timeouts(render_definition(substitutions),
                                          self.task_timeout_seconds),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/sparkify-etl-local",
        )["stateMachineArn"]
        # The triggers' way in, as deployed: EventBridge starts this one with the event.
        self.starter_arn = self.sfn.create_state_machine(
            name="sparkify-etl-start",
            type="EXPRESS",
            definition=render_definition({"EtlStateMachineArn": self.state_machine_arn},
                                         "start.asl.json"),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/sparkify-etl-local",
        )["stateMachineArn"]
        # New log files as deployed (template.yaml, NewLogFileRule .. NewFilePipe): S3's event to
        # an EventBridge rule, the rule to the new-file queue, a Pipe from the queue to the
        # starter. moto has no Pipes: LocalPipe stands in for it.
        self.events = boto3.client("events", region_name=REGION)
        dead_letters = self.sqs.create_queue(QueueName="sparkify-new-files-dlq")["QueueUrl"]
        self.new_file_queue_url = self.sqs.create_queue(
            QueueName="sparkify-new-files",
            Attributes={
                "VisibilityTimeout": "1800",
                "RedrivePolicy": json.dumps({
                    "deadLetterTargetArn": self._queue_arn(dead_letters), "maxReceiveCount": "5"}),
            },
        )["QueueUrl"]
        log_prefix = re.search(r"(?m)^LOG_PREFIX=(.*)$", static).group(1)
        self.events.put_rule(Name="sparkify-new-log-file", EventPattern=json.dumps({
            "source": ["aws.s3"], "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [self.bucket]}, "object": {"key": [{"prefix": log_prefix}]}},
        }))
        self.events.put_targets(Rule="sparkify-new-log-file", Targets=[
            {"Id": "NewFileQueue", "Arn": self._queue_arn(self.new_file_queue_url)}])
        self._pipe = LocalPipe(self.sqs, self.new_file_queue_url, self.sfn, self.starter_arn,
                               window_seconds=self.new_file_window_seconds)
        self._pipe.start()
        self.redshift = boto3.client(
            "redshift-data", region_name=REGION, endpoint_url=self.data_api_url
        )
        # The cluster's own API on the stand-in (AWS_ENDPOINT_URL_REDSHIFT).
        self.clusters = boto3.client(
            "redshift", region_name=REGION, endpoint_url=self.data_api_url
        )
        # The functions' own identity: ListStatements shows a caller only the statements its own
        # IAM identity ran, as the Data API does.
        self.functions_redshift = boto3.client(
            "redshift-data", region_name=REGION, endpoint_url=self.data_api_url,
            aws_access_key_id=self.identity, aws_secret_access_key="local",
        )
        self._set_up_readers(boto3)
        self._describe_as_a_stack(boto3, static)

    def _set_up_readers(self, boto3) -> None:
        """What a superuser does once on a deployed warehouse (docs/deploy.md, Readers): creates
        the analysts' and the operators' roles and gives each to its person (the local analyst,
        the local operator), whose first sign-in creates their user."""
        for role, key in ((READER_ROLE, ANALYST_KEY), (OPERATOR_ROLE, OPERATOR_KEY)):
            person = boto3.client("redshift-data", region_name=REGION,
                                  endpoint_url=self.data_api_url,
                                  aws_access_key_id=key, aws_secret_access_key="local")
            # On the workgroup, which is always up (a cluster target may start paused); roles
            # and users belong to the whole warehouse.
            self.query(f"CREATE ROLE {role}", on_workgroup=True)
            self.query("SELECT 1", client=person, on_workgroup=True)
            self.query(f'GRANT ROLE {role} TO "IAM:{key.split(":", 1)[1]}"', on_workgroup=True)

    def _describe_as_a_stack(self, boto3, static: str) -> None:
        """The local pipeline as a deployed one describes itself: a stack (moto's CloudFormation)
        whose outputs and parameters name its state machine, warehouse and data, as template.yaml's
        do. tools/ops.py finds the pipeline through it, the same way for both."""
        target = TARGETS[self.target]
        parameters = {
            "WorkgroupArn": target.get("REDSHIFT_WORKGROUP",
                                       re.search(r"(?m)^REDSHIFT_WORKGROUP=(.*)$", static).group(1)),
            "ClusterIdentifier": target.get("REDSHIFT_CLUSTER_ID", ""),
            "DbUser": target.get("REDSHIFT_DB_USER", ""),
            "Database": re.search(r"(?m)^REDSHIFT_DATABASE=(.*)$", static).group(1),
            "DataBucket": self.bucket,
            "LogPrefix": re.search(r"(?m)^LOG_PREFIX=(.*)$", static).group(1),
            "SongPrefix": re.search(r"(?m)^SONG_PREFIX=(.*)$", static).group(1),
            "StateMachineArn": self.state_machine_arn,
        }
        stack = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Parameters": {name: {"Type": "String"} for name in parameters},
            "Resources": {"FailureTopic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {"StateMachineArn": {"Value": {"Ref": "StateMachineArn"}}},
        }
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName=LOCAL_STACK, TemplateBody=json.dumps(stack),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        )

    def serve(self, path: Path) -> None:
        """Serves this pipeline to other processes until it closes: moto's server mode on a free
        port (CloudFormation, Step Functions: the same backends as this process's), and `path`
        names the endpoints and the local operator's credentials (tools/ops.py's --local)."""
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not a line per request
        port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        moto_url = f"http://127.0.0.1:{port}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "stack": LOCAL_STACK, "region": REGION, "pid": os.getpid(),
            "access_key": OPERATOR_KEY, "secret_key": "local",
            "endpoints": {"cloudformation": moto_url, "stepfunctions": moto_url,
                          "redshift-data": self.data_api_url, "s3": self.s3_url},
        }, indent=2) + "\n")
        self._served = path

    def listening(self) -> list[tuple[str, int, int]]:
        """Every TCP socket listening in a process this pipeline started (or in its children),
        as (address, port, pid), read from /proc."""
        inodes: dict[str, int] = {}
        # This process too: the local Lambda's Invoke and Runtime API endpoints are its threads.
        pids = {proc.pid for proc in self.processes} | {os.getpid()}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if os.getpgid(int(entry.name)) in pids:
                        pids.add(int(entry.name))
                except ProcessLookupError:
                    pass
        for pid in pids:
            try:
                for fd in (Path("/proc") / str(pid) / "fd").iterdir():
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes[target[8:-1]] = pid
            except (FileNotFoundError, PermissionError):
                continue
        found = []
        for table, width in (("tcp", 8), ("tcp6", 32)):
            for line in (Path("/proc/net") / table).read_text().splitlines()[1:]:
                fields = line.split()
                local_address, state, inode = fields[1], fields[3], fields[9]
                if state != "0A" or inode not in inodes:  # 0A: LISTEN
                    continue
                hex_addr, hex_port = local_address.split(":")
                raw = bytes.fromhex(hex_addr)
                if width == 8:
                    address = ".".join(str(b) for b in reversed(raw))
                else:
                    words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
                    address = ":".join(w.hex() for w in words)
                found.append((address, int(hex_port, 16), inodes[inode]))
        return found

    def _queue_arn(self, url: str) -> str:
        return self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def close(self) -> None:
        if self._served is not None:
            self._served.unlink(missing_ok=True)
            self._served = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._pipe is not None:
            pipe, self._pipe = self._pipe, None
            try:
                pipe.stop()
            except Exception as err:  # the processes below are stopped whatever happens here
                print(f"local pipe: {err!r}", file=sys.stderr)
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if self._lambda is not None:
            self._lambda.close()
            self._lambda = None
        for proc in self.processes:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.processes:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            # Children of the group (a function process) may outlive its leader briefly.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.processes.clear()

    # -- running -------------------------------------------------------------------------------

    def start(self, trigger: dict, *, name: str | None = None) -> str:
        """Starts one execution with `trigger` as its input; returns its ARN at once.

        An EventBridge event (the nightly schedule, a new log file) goes the deployed way: it is
        stamped as EventBridge stamps a new event (a fresh id, the time now) and delivered to the
        starter (statemachine/start.asl.json), which starts and names the execution. Any other
        input is a start by hand, named `name` or manual-<time>."""
        if trigger.get("detail-type") in TRIGGER_EVENTS:
            if name is not None:
                raise RunError("the starter names the executions of triggers")
            delivered = self.deliver(new_event(trigger))
            if delivered.status != "SUCCEEDED" or "etl_execution" not in (delivered.output or {}):
                raise RunError(f"the starter did not start a run: {delivered.status} "
                               f"{delivered.error}: {delivered.cause or delivered.output}")
            return delivered.output["etl_execution"]
        name = name or f"manual-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%f}"
        return self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(trigger)
        )["executionArn"]

    def new_files(self, *keys: str, spelled: dict[str, str] | None = None) -> list[dict]:
        """Tells of new objects `keys` (already in the bucket) as S3 does when the bucket sends its
        events to EventBridge: one Object Created event each, on the default event bus, where the
        new-log-file rule sends them to the new-file queue and the Pipe on to the starter. Returns
        the events as EventBridge stamped them. `spelled` gives a key as its event spells it
        (URL-encoded, say: S3's guides do not say how EventBridge events spell keys); a key that
        is not in the bucket (gone since its event) is told of with no size or ETag."""
        entries = []
        for key in keys:
            path = self.data_root / key
            body = path.read_bytes() if path.is_file() else None
            about = {"key": (spelled or {}).get(key, key), "sequencer": "0"}
            if body is not None:
                about.update(size=len(body), etag=hashlib.md5(body).hexdigest())
            entries.append({
                "Source": "aws.s3", "DetailType": "Object Created",
                "Detail": json.dumps({
                    "version": "0", "bucket": {"name": self.bucket},
                    "object": about,
                    "request-id": str(uuid.uuid4()), "requester": ACCOUNT, "reason": "PutObject",
                }),
            })
        for start in range(0, len(entries), 10):
            answer = self.events.put_events(Entries=entries[start:start + 10])
            if answer["FailedEntryCount"]:
                raise RunError(f"PutEvents refused {answer['FailedEntryCount']} events")
        return entries

    def load_new_files(self, *keys: str, progress=None, timeout: float = 900,
                       spelled: dict[str, str] | None = None) -> Execution:
        """Tells of new objects `keys` (`new_files`) and waits for the run the Pipe's batch of
        them starts, as a deployed stack loads new files; returns that run once it has ended."""
        started = time.monotonic()
        before = len(self._pipe.batches)
        asked = self.requests()
        self.new_files(*keys, spelled=spelled)
        while len(self._pipe.batches) == before:
            if time.monotonic() - started > 60 + self.new_file_window_seconds:
                raise RunError("the new-file events never reached the starter")
            time.sleep(0.1)
        batch = self._pipe.batches[before]
        if batch["status"] != "SUCCEEDED" or "etl_execution" not in (batch["output"] or {}):
            raise RunError(f"the starter did not start a run: {batch['status']} {batch['output']}")
        execution = self.wait(batch["output"]["etl_execution"], progress=progress,
                              timeout=timeout, started=started)
        execution.requests = requests_between(asked, self.requests())
        return execution

    def redeliver(self, *bodies: str) -> None:
        """Puts SQS message bodies on the new-file queue again, as SQS's at-least-once delivery
        may (`bodies` are bodies the queue delivered before, from `pipe_batches`)."""
        for body in bodies:
            self.sqs.send_message(QueueUrl=self.new_file_queue_url, MessageBody=body)

    @property
    def lambda_calls(self) -> list:
        """Every function call so far, as Lambda's REPORT line tells it: function, duration, peak
        memory (MiB) and outcome (tools/local_lambda.py's `Call`)."""
        return list(self._lambda.calls)

    @property
    def pipe_batches(self) -> list[dict]:
        """Every batch the local Pipe delivered: its records, and the starter's execution."""
        return list(self._pipe.batches)

    def etl_executions(self) -> list[dict]:
        """Every execution of the ETL state machine, oldest first."""
        pages = self.sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self.state_machine_arn)
        runs = [run for page in pages for run in page["executions"]]
        return sorted(runs, key=lambda run: run["startDate"])

    def deliver(self, event: dict) -> Execution:
        """Delivers `event` exactly as given to the starter, as an EventBridge rule target would
        (a starter execution of a generated name), and returns the starter's execution once it
        has ended: its output names the ETL execution it started (`etl_execution`)."""
        arn = self.sfn.start_execution(
            stateMachineArn=self.starter_arn, name=str(uuid.uuid4()), input=json.dumps(event)
        )["executionArn"]
        return self.wait(arn, timeout=60, notifications=False)

    def wait(self, arn: str, *, progress=None, timeout: float = 900,
             started: float | None = None, notifications: bool = True) -> Execution:
        """Waits for execution `arn` to end, calling `progress(event, started)` for each history
        event; with `notifications`, takes the failure notices published so far."""
        started = time.monotonic() if started is None else started
        seen = 0
        too_large = None
        while True:
            # Status first: once it has ended, the history read after it is complete.
            described = self.sfn.describe_execution(executionArn=arn)
            history = self._history(arn)
            for event in history[seen:]:
                if progress:
                    progress(event, started)
                too_large = too_large or _over_state_limit(event)
            seen = len(history)
            if too_large and described["status"] == "RUNNING":
                # moto's engine does not hold states to the limit: the run ends here, as
                # Step Functions fails it.
                self.sfn.stop_execution(executionArn=arn, error="States.DataLimitExceeded",
                                        cause=too_large)
                continue
            if described["status"] != "RUNNING":
                break
            if time.monotonic() - started > timeout:
                self.sfn.stop_execution(executionArn=arn, error="LocalTimeout")
                raise RunError(f"execution {arn} still running after {timeout} s")
            time.sleep(0.1)
        output = described.get("output")
        return Execution(
            name=described["name"],
            arn=arn,
            status="FAILED" if too_large else described["status"],
            output=json.loads(output) if output else None,
            error="States.DataLimitExceeded" if too_large else described.get("error"),
            cause=too_large or described.get("cause"),
            history=history,
            notifications=self._notifications() if notifications else [],
            seconds=time.monotonic() - started,
            input=json.loads(described["input"]) if described.get("input") else None,
            started=described.get("startDate"),
        )

    def execute(self, trigger: dict, *, name: str | None = None, progress=None,
                timeout: float = 900, stop_before: str | None = None) -> Execution:
        """Starts one execution and waits for it to end (`start`, then `wait`). With
        `stop_before`, the execution is stopped (as an operator, or the end of the world, would)
        at its first invocation of that function, which never runs."""
        started = time.monotonic()

        def stop_there(function: str, payload: dict) -> bool:
            if function != stop_before:
                return False
            self.sfn.stop_execution(executionArn=payload["execution"], error="Stopped",
                                    cause=f"stopped before {function}")
            return True

        self._lambda.refuse = stop_there if stop_before else None
        try:
            before = self.requests()
            arn = self.start(trigger, name=name)
            execution = self.wait(arn, progress=progress, timeout=timeout, started=started)
            execution.requests = requests_between(before, self.requests())
            return execution
        finally:
            self._lambda.refuse = None

    def continuations(self, execution: Execution, *, timeout: float = 900) -> list[Execution]:
        """The runs that took on what `execution` left when its load budget ran out, and what
        they left in turn, each once it has ended, in order."""
        chain = []
        while execution.continuation:
            arn = continuation_arn(self.sfn, execution, timeout=60)
            execution = self.wait(arn, timeout=timeout)
            chain.append(execution)
        return chain

    # -- fault switches of the stand-in ---------------------------------------------------------

    def analytics(self, *names: str) -> str:
        """Runs the analysts' queries (sparkify-analytics, crates/analytics) on this pipeline's
        warehouse through the Data API, as the functions reach it but signed in as the analyst,
        who reads through the role create-tables granted (on a workgroup; a cluster target's
        DbUser signs in as the loader); returns the tables printed."""
        env_file = (self.logs / "functions.env").read_text()
        env = {**os.environ, **dict(line.split("=", 1) for line in env_file.splitlines() if "=" in line)}
        # On a cluster the DbUser the functions use wins over the caller, as on AWS.
        env["AWS_ACCESS_KEY_ID"] = ANALYST_KEY
        run = subprocess.run([str(TARGET / "debug" / "sparkify-analytics"), *names], env=env,
                             capture_output=True, text=True, timeout=600)
        if run.returncode != 0:
            raise RunError(f"sparkify-analytics: {run.stderr.strip()}")
        return run.stdout

    def before_calls(self, hook) -> None:
        """From now on calls `hook(function, payload)` before each function invocation, in the
        invocation's own thread (so a hook can hold it); a true answer refuses the call, as
        `execute(stop_before=...)` does. None removes the hook."""
        self._lambda.refuse = hook

    def arm_fault(self, fault: dict) -> None:
        """Arms one of redshift-local's faults (local/redshift-local/src/faults.rs)."""
        self._faults("POST", json.dumps(fault).encode())

    def clear_faults(self) -> None:
        self._faults("DELETE", None)

    def _faults(self, method: str, body: bytes | None) -> None:
        import urllib.request

        request = urllib.request.Request(
            f"{self.data_api_url}/_local/faults", data=body, method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            if answer.status != 204:
                raise RunError(f"{method} /_local/faults answered {answer.status}")

    def requests(self) -> dict:
        """What the stand-in was asked since it started: S3 requests by kind and by who (COPY or
        the callers), Data API calls by action (local/redshift-local/src/requests.rs)."""
        import urllib.request

        with urllib.request.urlopen(f"{self.data_api_url}/_local/requests", timeout=10) as answer:
            return json.loads(answer.read())

    def cluster_report(self) -> dict:
        """The stand-in's cluster: its status now and how often it was paused and resumed."""
        import urllib.request

        with urllib.request.urlopen(f"{self.data_api_url}/_local/clusters", timeout=10) as answer:
            return json.loads(answer.read())[CLUSTER]

    def _history(self, arn: str) -> list[dict]:
        pages = self.sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        return [event for page in pages for event in page["events"]]

    def _notifications(self) -> list[dict]:
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        out = []
        for message in messages:
            envelope = json.loads(message["Body"])
            out.append({"subject": envelope.get("Subject"), "message": json.loads(envelope["Message"])})
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return out

    # -- looking at the warehouse --------------------------------------------------------------

    def query(self, sql: str, *, client=None, on_workgroup: bool = False) -> list[list]:
        """Runs one SQL statement through the Data API as the warehouse's admin (a superuser, who
        sees every table and every load error), or as `client`'s identity, on the cluster or the
        workgroup, and returns its rows as Python values."""
        client = client or self.redshift
        target = ({"WorkgroupName": self.workgroup} if on_workgroup
                  else {"ClusterIdentifier": CLUSTER})
        sid = client.execute_statement(**target, Database="dev", Sql=sql)["Id"]
        while True:
            # Long-polled: answered as the statement ends (or after 30 s, the API's most).
            d = client.describe_statement(Id=sid, WaitTimeSeconds=30)
            if d["Status"] == "FINISHED":
                break
            if d["Status"] in ("FAILED", "ABORTED"):
                raise RunError(f"{sql}: {d.get('Error')}")
        if not d.get("HasResultSet"):
            return []
        pages = client.get_paginator("get_statement_result").paginate(Id=sid)
        return [
            [next(iter(v.values())) if v else None for v in record]
            for page in pages
            for record in page["Records"]
        ]

    def counts(self) -> dict[str, int]:
        return {t: self.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in TABLES}

    def checksums(self) -> dict[str, str]:
        """A SHA-256 of each table's rows in a canonical order (every column but the bookkeeping
        of which execution loaded a row or an object, and when)."""
        columns = {
            "load_ledger": "object_key, kind, etag, size_bytes, rows_loaded",
            "staging_events": ", ".join(EVENT_COLUMNS + ["object_key", "published"]),
        }
        out = {}
        for table in TABLES + ["staging_files", "load_ledger"]:
            rows = self.query(f"SELECT {columns.get(table, '*')} FROM {table}")
            lines = sorted(json.dumps(row, default=str) for row in rows)
            out[table] = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16] + f"/{len(rows)}"
        return out

    def ledger(self) -> dict[str, dict]:
        """The load ledger by object key."""
        rows = self.query(
            "SELECT object_key, kind, etag, size_bytes, rows_loaded, run_id FROM load_ledger"
        )
        names = ["kind", "etag", "size_bytes", "rows_loaded", "run_id"]
        return {row[0]: dict(zip(names, row[1:])) for row in rows}

    def statements(self) -> list[dict]:
        """Every statement the functions ran, newest first."""
        pages = self.functions_redshift.get_paginator("list_statements").paginate(Status="ALL")
        return [statement for page in pages for statement in page["Statements"]]


# -- the command ---------------------------------------------------------------------------------


def continuation_arn(sfn, execution: Execution, *, timeout: float, poll: float = 0.1) -> str:
    """The ARN of the run `execution` started for what its load budget left, once Step Functions
    knows it (the state machine starts it as `execution` ends)."""
    arn = execution.arn.rsplit(":", 1)[0] + f":{execution.continuation}"
    until = time.monotonic() + timeout
    while True:
        try:
            sfn.describe_execution(executionArn=arn)
            return arn
        except sfn.exceptions.ExecutionDoesNotExist:
            if time.monotonic() > until:
                raise RunError(f"{execution.name} never started {execution.continuation}")
            time.sleep(poll)


def requests_between(before: dict, after: dict) -> dict:
    """What the stand-in was asked between two `LocalPipeline.requests` answers."""

    def minus(a, b):
        if isinstance(a, dict):
            keys = set(a) | set(b or {})
            return {k: minus(a.get(k, 0), (b or {}).get(k, 0)) for k in sorted(keys)}
        return a - (b or 0)

    return minus(after, before)


def requests_summary(requests: dict) -> str:
    """A run's requests as a person reads them: `S3 0 LIST, 1 HEAD, 6 GET, 4 PUT; Data API 15
    calls`."""
    s3 = requests.get("s3", {})
    kinds = ", ".join(f"{s3.get(kind, 0):,} {kind}" for kind in ("LIST", "HEAD", "GET", "PUT"))
    return f"S3 {kinds}; Data API {requests.get('data_api_calls', 0):,} calls"


def _moved_summary(moved: list[dict]) -> str:
    """A step's `moved` as a person reads it: `8,056 events from 30 log objects, 333 plays`. A
    figure of objects says where the figure before it came from."""
    parts: list[str] = []
    for figure in moved:
        text = f"{figure['count']:,} {figure['what']}"
        if parts and figure["what"].endswith("objects"):
            parts[-1] += f" from {text}"
        else:
            parts.append(text)
    return ", ".join(parts)


def _done_summary(state: str, step: dict) -> str:
    """What a finished step did, in one phrase."""
    if state == "VerifyCounts":
        report = step.get("report") or {}
        checks = report.get("checks", [])
        passed = sum(1 for check in checks if check["passed"])
        return (f"{len(report.get('counts', []))} tables counted, {passed} of {len(checks)} checks "
                f"passed, {report.get('rejected_rows', 0):,} records rejected")
    text = (_moved_summary(step["moved"]) if step.get("moved") else
            {"CreateTables": "tables ready", "CopyStaging": "nothing new to stage"}.get(state, "done"))
    if state == "CopyStaging":
        listing = step.get("listing") or {}
        missing, skipped = listing.get("not_found", 0), listing.get("skipped_total", 0)
        if missing:
            text += f"; {missing:,} named by events not found"
        if skipped > missing:
            text += f"; {skipped - missing:,} skipped"
        if skipped:
            shown = [s["key"] for s in listing.get("skipped", [])[:3]]
            text += f" ({', '.join(shown)}{', ...' if skipped > len(shown) else ''})"
        if step.get("backlog"):
            text += f"; the rest goes to {step.get('continuation')}"
    return text


def _running_summary(state: str, step: dict) -> str:
    """Where a step still running after a call stands; copy-staging says its round and what the
    rounds before it staged."""
    if state != "CopyStaging":
        return "waiting for its statement"
    phase = step.get("phase")
    if phase in ("list", "record"):
        listing = step.get("listing") or {}
        text = f"{'listing' if phase == 'list' else 'recording the listing'}: {listing.get('objects', 0):,} objects"
        return text
    doing = "planning" if phase == "plan" else "staging"
    text = f"round {step.get('round')} {doing}"
    if step.get("staged"):
        text += f", staged so far: {_moved_summary(step['staged'])}"
    return text


def _progress(out):
    """`show(event, started)` for each history event of one execution: a line per step once it
    is done (what it moved, and its wall time over all its calls and Waits), a line when a
    running step's standing changes, and the conflicts, failures and the end. The per-statement
    figures are in the execution's history and in functions.log."""
    first_entered: dict[str, float] = {}
    last_said: dict[str, str] = {}

    def line(elapsed: float, state: str, text: str) -> None:
        out(f"{elapsed:7.1f}s  {state:<16} {text}")

    def show(event, started):
        at = event["timestamp"].timestamp()
        elapsed = time.monotonic() - started
        kind = event["type"]
        if kind == "TaskStateEntered":
            first_entered.setdefault(event["stateEnteredEventDetails"]["name"], at)
        elif kind == "TaskStateExited":
            details = event["stateExitedEventDetails"]
            state = details["name"]
            output = json.loads(details["output"])
            # The warehouse's Tasks: what each look found or did, once per change.
            if state in LIFECYCLE:
                key = {"Warehouse": "warehouse", "Release": "warehouse_release"}[state]
                note = (output.get(key) or {}).get("note", "")
                if last_said.get(state) != note:
                    last_said[state] = note
                    line(elapsed, state, note)
                return
            if state not in STEPS:  # ListRunning(AtEnd): the executions running
                listed = output.get("running_at_end" if state.endswith("AtEnd") else "running")
                names = (listed or {}).get("names") or []
                line(elapsed, state, f"{len(names)} running")
                return
            step = output.get("steps", {}).get(STEPS[state], {})
            if step.get("done"):
                took = at - first_entered.get(state, at)
                line(elapsed, state, f"{_done_summary(state, step)}   {took:.1f} s")
                return
            standing = _running_summary(state, step)
            if last_said.get(state) != standing:
                last_said[state] = standing
                line(elapsed, state, standing)
        elif kind in ("TaskFailed", "LambdaFunctionFailed"):
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            out(f"{elapsed:7.1f}s  task failed: {details.get('error')}: "
                f"{(details.get('cause') or '')[:300]}")
        elif kind == "PassStateEntered" and event["stateEnteredEventDetails"]["name"].endswith("Resubmit"):
            line(elapsed, event["stateEnteredEventDetails"]["name"][:-8],
                 "serialization conflict: submitting again")
        elif kind == "PassStateEntered" and event["stateEnteredEventDetails"]["name"] == "DescribeFailure":
            out(f"{elapsed:7.1f}s  Catch -> DescribeFailure -> NotifyFailure")
        elif kind == "ExecutionSucceeded":
            out(f"{elapsed:7.1f}s  execution SUCCEEDED")
        elif kind == "ExecutionFailed":
            d = event.get("executionFailedEventDetails", {})
            out(f"{elapsed:7.1f}s  execution FAILED: {d.get('error')}")

    return show


def parse_counts(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in (pair.split("=") for pair in text.split(","))}


def print_report(execution: Execution, expected: dict | None, out=print,
                 catalogue: dict | None = None) -> bool:
    report = execution.report or {}
    counts = {c["table"]: c["rows"] for c in report.get("counts", [])}
    out("")
    out(f"  {'table':<16}{'rows':>10}" + (f"{'expected':>10}" if expected else ""))
    for table, rows in counts.items():
        line = f"  {table:<16}{rows:>10,}"
        if expected:
            mark = "" if expected.get(table) == rows else "   <- differs"
            line += f"{expected.get(table, 0):>10,}{mark}"
        out(line)
    # A run of new log files (a window's, or one Object Created event's) counts the tables it
    # writes, not the catalogue it leaves as it was (verify/table_counts_run.sql); the caller
    # gives those from the warehouse in `catalogue`.
    new_files = (execution.input or {}).get("detail-type") in ("New log files", "Object Created")
    uncounted = set(expected or {}) - set(counts)
    if expected and new_files and catalogue is not None:
        for table in sorted(uncounted & CATALOGUE_TABLES):
            rows = catalogue[table]
            mark = "" if expected.get(table) == rows else "   <- differs"
            out(f"  {table:<16}{rows:>10,}{expected[table]:>10,}{mark}"
                f"   (the warehouse's: a run of new log files does not count it)")
            counts = {**counts, table: rows}
        uncounted = set(expected) - set(counts)
    checks = report.get("checks", [])
    failed = [c for c in checks if not c["passed"]]
    out(f"  checks: {len(checks) - len(failed)} passed, {len(failed)} failed"
        + "".join(f"\n    failed: {c['check']} ({c['failing_rows']} rows)" for c in failed))
    rejects = report.get("rejects") or []
    if rejects:
        out(f"  not loaded: {report.get('rejected_rows', 0):,} records (the first {len(rejects)} are "
            f"listed in the execution output, verify_counts.report.rejects)")
        for r in rejects[:10]:
            where = (f"line {r['line']}" if r.get("line") is not None
                     else f"{r['rows']} row{'s' if r['rows'] != 1 else ''}")
            out(f"    {r['file']}: {where}, {r['column'] or '-'}: {r['reason']}")
    if report.get("unattributed_rows"):
        out(f"  load errors not attributed to this run or another: {report['unattributed_rows']:,} "
            f"(statemachine/README.md)")
    if report.get("waiting_plays"):
        # A run of new log files counts its own lines' (waiting_among "run"), not the warehouse's.
        among = " of this run's lines" if report.get("waiting_among") == "run" else ""
        out(f"  plays{among} waiting for their song: {report['waiting_plays']:,} (the oldest at "
            f"{report.get('oldest_waiting')}): they load when their song does (docs/exactly-once.md)")
    if report.get("refused_songs"):
        shown = ", ".join(f"{s['song_id']} ({s['reason']})" for s in report.get("refused_song_ids", []))
        out(f"  songs the songs table refuses: {report['refused_songs']:,}: {shown} "
            f"(docs/runbook.md#refused-songs)")
    if execution.requests:
        out(f"  requests: {requests_summary(execution.requests)}")
    matches = expected is None or (
        all(expected.get(table) == rows for table, rows in counts.items()) and not uncounted)
    return bool(report.get("passed")) and not failed and matches


def functions_log_size(logs: Path) -> int:
    path = logs / "functions.log"
    return path.stat().st_size if path.exists() else 0


def print_metrics(documents: list[dict], out=print) -> bool:
    """The metrics the run emitted, as CloudWatch would extract them from the functions' log
    lines (crates/sparkify/src/metrics.rs). False when the run emitted none."""
    if not documents:
        out("  metrics: none emitted (expected verify-counts' EMF line in functions.log)")
        return False
    for document in documents:
        where = ", ".join(f"{k}={v}" for k, v in document["dimensions"].items())
        figures = "  ".join(f"{name} {value:g}" for name, (value, _) in document["values"].items())
        out(f"  metrics ({document['namespace']}, {where}): {figures}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="./dev run",
        description="Run the Sparkify state machine locally on the bundled sample or a folder.",
    )
    parser.add_argument("--data", type=Path,
                        help="a bucket folder to load (its name is the bucket), e.g. "
                             "../shared/data/udacity-dend; default: the generated sample")
    parser.add_argument("--trigger", default="events/triggers/scheduled.json", type=Path,
                        help="execution input: events/triggers/scheduled.json (nightly load, "
                             "default) or events/triggers/s3-object-created.json (one new file)")
    parser.add_argument("--expect", help="counts to require, table=rows,... (the sample's are known)")
    parser.add_argument("--paused-cluster", action="store_true",
                        help="load into a provisioned cluster that starts paused, as a stack "
                             "deployed with PauseClusterWhenIdle=true: the run resumes it and "
                             "pauses it again (default: a Serverless workgroup)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the pipeline running after the run, until Ctrl-C, for "
                             "./dev status --local and the runbook's commands (--local)")
    parser.add_argument("--logs", type=Path, default=ROOT / ".local" / "logs")
    # Where --keep says how to reach the pipeline (tests keep theirs elsewhere).
    parser.add_argument("--served", type=Path, default=SERVED, help=argparse.SUPPRESS)
    parser.add_argument("--no-build", action="store_true", help=argparse.SUPPRESS)
    # cargo's --timings report of the build (./dev bench --cold keeps the cold one in docs/).
    parser.add_argument("--timings", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    def stop(signum, frame):
        raise KeyboardInterrupt

    # Ctrl-C and SIGTERM both stop everything. SIGINT is set explicitly: a process started in the
    # background by a non-interactive shell (CI, nohup-like wrappers) inherits SIGINT ignored, and
    # Python keeps an inherited SIG_IGN, which would leave the run impossible to interrupt.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    if not args.no_build:
        try:
            build(timings=args.timings)
        except RunError as err:
            print(f"local run failed: {err}", file=sys.stderr)
            return 1
    expected = parse_counts(args.expect) if args.expect else None
    if args.data is None:
        sample = ROOT / ".local" / "sample"
        counts = generate_sample(sample)
        expected = expected or counts
        if args.trigger.name == "s3-object-created.json":
            # The new file lands on a warehouse the nightly run loaded without it: in the end
            # every table holds the whole sample, and the run staged that file's events.
            by_file = json.loads((sample / "expected-counts-by-log-file.json").read_text())
            key = json.loads((ROOT / args.trigger).read_text())["detail"]["object"]["key"]
            expected = {**expected, "staging_events": by_file[key]["staging_events"]}
        data = sample / "udacity-dend"
        what = "the bundled sample (sparkify-gen, deterministic)"
    else:
        data = args.data
        what = str(args.data)
        if not data.is_dir():
            print(f"no such folder: {data}", file=sys.stderr)
            return 2
    trigger = json.loads((ROOT / args.trigger).read_text() if not args.trigger.is_absolute()
                         else args.trigger.read_text())
    print(f"==> data: {what}\n==> trigger: {args.trigger}", flush=True)
    print("==> starting redshift-local (Data API + S3), a local Lambda (the functions, within "
          "their MemorySize and Timeout) "
          "and the state machine engine (moto)", flush=True)
    try:
        cluster = {"target": "cluster", "pause_when_idle": True} if args.paused_cluster else {}
        with LocalPipeline(data, args.logs, **cluster) as pipeline:
            if args.paused_cluster:
                pipeline.clusters.pause_cluster(ClusterIdentifier=CLUSTER)
                while pipeline.cluster_report()["status"] != "paused":
                    time.sleep(0.2)
                print(f"==> cluster {CLUSTER} paused (redshift-local's management API)", flush=True)
            show = _progress(lambda s: print(s, flush=True))
            if trigger.get("detail-type") == "Object Created":
                key = trigger["detail"]["object"]["key"]
                if not (data / key).is_file():
                    print(f"no object {key} in {data}", file=sys.stderr)
                    return 2
                aside = args.logs / "new-file-aside"
                (data / key).rename(aside)
                try:
                    print(f"==> the warehouse the file lands in: the nightly run loads the bucket "
                          f"without {key}", flush=True)
                    night = pipeline.execute(TRIGGER_NIGHTLY, progress=show)
                finally:
                    aside.rename(data / key)
                if night.status != "SUCCEEDED":
                    print(f"\nthe nightly run {night.status}: {night.error}\n{night.cause}")
                    return 1
                print("==> executing statemachine/etl.asl.json for a new file: S3's event to the "
                      "new-log-file rule, the new-file queue, the Pipe's window, then "
                      "statemachine/start.asl.json, which starts and names the run, as deployed",
                      flush=True)
                metrics_from = functions_log_size(args.logs)
                execution = pipeline.load_new_files(
                    key, progress=_progress(lambda s: print(s, flush=True)))
            else:
                how = (" (the event delivered to statemachine/start.asl.json, which starts and "
                       "names it, as the deployed schedule does)"
                       if trigger.get("detail-type") in TRIGGER_EVENTS else "")
                print(f"==> executing statemachine/etl.asl.json{how}", flush=True)
                metrics_from = functions_log_size(args.logs)
                execution = pipeline.execute(trigger, progress=show)
            print(f"==> execution {execution.name}", flush=True)
            history = args.logs / f"{execution.name}.history.json"
            history.write_text(json.dumps(execution.history, default=str, indent=1))
            if execution.status != "SUCCEEDED":
                print(f"\nexecution {execution.status}: {execution.error}\n{execution.cause}")
                for n in execution.notifications:
                    print(f"failure notification ({n['subject']}):\n{json.dumps(n['message'], indent=2)}")
                ok = False
            else:
                ok = print_report(execution, expected, catalogue=pipeline.counts())
                ok = print_metrics(emitted_metrics(args.logs / "functions.log", metrics_from)) and ok
            if execution.status == "SUCCEEDED" and args.paused_cluster:
                while pipeline.cluster_report()["status"] == "pausing":
                    time.sleep(0.2)
                report = pipeline.cluster_report()
                print(f"\n==> cluster {CLUSTER} is {report['status']} again: resumed "
                      f"{report['resumes']} time(s) by the run; the analysts' queries would wake it "
                      "(./dev warehouse resume)", flush=True)
            elif execution.status == "SUCCEEDED":
                print("\n==> the analysts' queries (sql/analytics/), through the Data API as "
                      "`./dev analytics` runs them on a warehouse", flush=True)
                print(pipeline.analytics(), end="", flush=True)
            print(f"\n{'done' if ok else 'FAILED'} in {execution.seconds:.1f} s. Where to look next:")
            print(f"  logs:            {args.logs}/ (redshift-local.log, functions.log, "
                  f"{history.name})")
            print("  the SQL:         sql/ (create, copy, facts, dimensions, verify, analytics)")
            print("  the definition:  statemachine/ (etl.asl.json; start.asl.json, the triggers' "
                  "way in) and statemachine/README.md")
            print("  by hand:         docs/deploy.md, 'Invoking a function by hand'")
            print("  on AWS:          sam build && sam deploy --guided")
            if args.keep:
                pipeline.serve(args.served)
                print(f"\n==> the pipeline keeps running until Ctrl-C: ./dev status --local, "
                      f"./dev runs --local, ./dev quarantine list --local, ./dev backfill FROM TO "
                      f"--local (its endpoints: {args.served})", flush=True)
                try:
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    print("\n==> stopped: everything stopped", file=sys.stderr)
            return 0 if ok else 1
    except KeyboardInterrupt:
        print("\ninterrupted: everything stopped", file=sys.stderr)
        return 130
    except RunError as err:
        print(f"local run failed: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
