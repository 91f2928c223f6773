"""`./dev bench`: measures, prints the tables, and writes them with the machine and the date to
docs/benchmarks.md. `--quick` is the form the test command runs, to check that the benchmark works:
two cold starts, the bundled sample instead of the full data set, nothing written.

Sections: cold start, memory and size per function (coldstart.py); the full data set end to end
per step, and new log files from their events to verified tables (endtoend.py); the scaling curve
up to a million songs and a year of logs (`--no-million` leaves that run out); what each run asks
of the warehouse (batches, statements, COPYs, busy seconds, the largest result and state); the
AWS cost of one nightly run's orchestration, and of each run with the warehouse, priced from the
measured calls, durations, state transitions and busy seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import coldstart  # noqa: E402
import endtoend  # noqa: E402
import sparkify_local as local  # noqa: E402

OUT = local.ROOT / "docs" / "benchmarks.md"
# Targets from the issue: init + first response, its ratio to the Python peer, peak RSS, zip.
TARGET_MS, TARGET_RATIO, TARGET_RSS_MIB, TARGET_ZIP_MB = 15.0, 1 / 20, 20.0, 5.0
TARGET_INCREMENTAL_S = 2.0
TARGET_FLOOR_RATIO = 1.3
PLOT = local.ROOT / "docs" / "scaling.png"
FULL_DATA = local.DATA_SET

# AWS list prices, US West (Oregon), as published on aws.amazon.com/lambda/pricing and
# aws.amazon.com/step-functions/pricing; read 2026-11-23. Free tiers left out.
PRICES_READ = "2026-11-23"
LAMBDA_GB_SECOND_X86 = 0.0000166667
LAMBDA_REQUEST = 0.20 / 1_000_000
SFN_TRANSITION = 0.025 / 1_000

# The warehouse, from AWS's Redshift pricing and Management Guide pages as stored here, read
# 2026-12-02 (docs/benchmarks.md names the pages). Serverless: $0.375 per RPU-hour (US East;
# no US West rate was found), per second while queries run, "The minimum charge is for 60 seconds
# of resource usage"; base capacity 8 RPUs, the smallest the guide allows (128 is the default).
# Provisioned: dc2.large on demand $0.25 per node-hour ("you can start small at $0.25 per
# hour"), billed per second while not paused; a paused cluster pays for storage only.
WAREHOUSE_PRICES_READ = "2026-12-02"
RPU_HOUR = 0.375
SERVERLESS_MINIMUM_S = 60
BASE_RPUS = 8
DEFAULT_RPUS = 128
DC2_LARGE_HOUR = 0.25


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}; {rustc}; "
            f"Python {platform.python_version()}")


def cold_start_table(rows: dict, runs: int) -> list[str]:
    peer = rows["python + boto3"]["median_ms"]
    lines = [
        f"Process start to the posted response through a Lambda Runtime API on loopback, {runs} "
        "cold starts each, 128 MB not enforced. The event is each step's last poll, of a finished "
        "statement on redshift-local: one DescribeStatement (verify-counts then reads its five "
        "result sets). The Python + boto3 peer makes the same DescribeStatement.",
        "",
        "| function | median ms | min–max ms | × Python | peak RSS MiB | bootstrap MB | zip MB | targets |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in rows.items():
        ratio = r["median_ms"] / peer
        if name == "python + boto3":
            verdict, sizes = "peer", "| – | –"
        else:
            missed = [what for what, ok in [
                (f"≤ {TARGET_MS:g} ms", r["median_ms"] <= TARGET_MS),
                ("≤ 1/20 of Python", ratio <= TARGET_RATIO),
                (f"RSS ≤ {TARGET_RSS_MIB:g} MiB", r["peak_rss_mib"] <= TARGET_RSS_MIB),
                (f"zip ≤ {TARGET_ZIP_MB:g} MB", r["zip_mb"] <= TARGET_ZIP_MB),
            ] if not ok]
            verdict = "met" if not missed else "missed: " + ", ".join(missed)
            sizes = f"| {r['bootstrap_mb']:.1f} | {r['zip_mb']:.1f}"
        lines.append(f"| {name} | {r['median_ms']:.1f} | {r['min_ms']:.1f}–{r['max_ms']:.1f} | "
                     f"{ratio:.3f} | {r['peak_rss_mib']:.1f} {sizes} | {verdict} |")
    return lines


def steps_table(run: endtoend.Timed) -> list[str]:
    lines = [
        "| step | wall s | function calls | in calls s | in waits s |",
        "|---|---:|---:|---:|---:|",
    ]
    for state, step in run.steps.items():
        lines.append(f"| {state} | {step.seconds:.1f} | {step.calls} | {step.call_seconds:.1f} | "
                     f"{step.wait_seconds:.1f} |")
    lines.append(f"| **execution** | **{run.seconds:.1f}** | "
                 f"{sum(s.calls for s in run.steps.values())} | "
                 f"{sum(s.call_seconds for s in run.steps.values()):.1f} | "
                 f"{sum(s.wait_seconds for s in run.steps.values()):.1f} |")
    return lines


def lambda_table(run: endtoend.Timed) -> list[str]:
    """Each function's calls as the local Lambda measured them, against the template's limits."""
    limits = local.local_lambda.limits((local.ROOT / "template.yaml").read_text(),
                                       local.LAMBDA_RESOURCES)
    lines = [
        "| function | calls | largest peak memory MiB | MemorySize MB | longest call s | Timeout s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for function, (calls, peak, longest) in sorted(run.lambda_calls.items()):
        memory, timeout = limits[function]
        lines.append(f"| {function} | {calls} | {peak:.1f} | {memory} | {longest:.2f} | {timeout:g} |")
    return lines


def floor_lines(run: endtoend.Timed, measured: dict) -> list[str]:
    s = measured["seconds"]
    floor = endtoend.floor_seconds(measured)
    ratio = run.seconds / floor
    verdict = "met" if ratio <= TARGET_FLOOR_RATIO else "missed"
    return [
        "The floor, measured in the same run (tests/examples/floor.rs): the same rows bulk-loaded "
        "with `COPY ... FROM STDIN` and the pipeline's own SQL (sql/create, a song round's "
        "publishing in sql/copy, sql/facts, sql/dimensions) run directly on the same embedded "
        "PostgreSQL; it builds the same tables (checked).",
        "",
        "| floor phase | s |",
        "|---|---:|",
        f"| create tables | {s['create']:.2f} |",
        f"| COPY FROM STDIN (the events' and the songs' private tables, staging_files) | {s['copy_from_stdin']:.2f} |",
        f"| a log round's tags and staging SQL | {s['events']:.2f} |",
        f"| a song round's publishing SQL | {s['songs']:.2f} |",
        f"| load-facts SQL | {s['facts']:.2f} |",
        f"| load-dimensions SQL | {s['dimensions']:.2f} |",
        f"| **floor** | **{floor:.2f}** |",
        f"| (JSON to rows, not counted) | {s['convert']:.2f} |",
        "",
        f"**Pipeline / floor: {run.seconds:.1f} s / {floor:.2f} s = {ratio:.1f}×** "
        f"(target ≤ {TARGET_FLOOR_RATIO:g}×: {verdict}).",
    ]


def scaling_lines(scaled: list, plot: Path | None) -> list[str]:
    steps = list(local.STEPS)
    lines = [
        "| size | rows staged | " + " | ".join(f"{s} s" for s in steps) + " | execution s | floor s |",
        "|---|---:|" + "---:|" * (len(steps) + 2),
    ]
    for item in scaled:
        if item.run is None:
            lines.append(f"| {item.size()} | {item.rows:,} | FAILED: {item.failure} |")
            continue
        cells = " | ".join(f"{item.run.steps[s].seconds:.1f}" if s in item.run.steps else "–"
                           for s in steps)
        lines.append(f"| {item.size()} | {item.rows:,} | {cells} | {item.run.seconds:.1f} | "
                     f"{endtoend.floor_seconds(item.floor):.2f} |")
    ok = [item for item in scaled if item.run is not None]
    if len(ok) >= 2:
        first, last = ok[0], ok[-1]
        size = last.rows / first.rows
        growth = []
        for s in steps:
            a, b = first.run.steps[s].seconds, last.run.steps[s].seconds
            exponent = math.log(b / a) / math.log(size) if a > 0 and b > 0 else float("nan")
            growth.append(f"{s} {exponent:.2f}")
        lines += ["", f"Growth from {first.size()} to {last.size()} ({size:.1f}× the rows), as the "
                  "exponent k in time ∝ rows^k (1 is linear; a step that mostly waits on fixed "
                  "1 s polls grows slower): " + ", ".join(growth) + "."]
    if plot is not None and ok:
        draw(ok, steps, plot)
        lines += ["", f"![time per step against size]({plot.name})"]
    return lines


def draw(scaled: list, steps: list[str], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [item.rows for item in scaled]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for s in steps:
        axes.plot(rows, [item.run.steps[s].seconds for item in scaled], marker="o", label=s)
    axes.plot(rows, [item.run.seconds for item in scaled], marker="s", color="black",
              label="execution")
    axes.plot(rows, [endtoend.floor_seconds(item.floor) for item in scaled], linestyle="--",
              color="grey", label="floor")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("rows staged (staging_events + staging_songs)")
    axes.set_ylabel("seconds")
    axes.set_title("Nightly run per step against size (./dev bench)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    out.parent.mkdir(exist_ok=True)
    figure.savefig(out, dpi=100)


def memory_mb() -> int:
    text = (local.ROOT / "template.yaml").read_text()
    return int(re.search(r"(?m)^    MemorySize: (\d+)$", text).group(1))


def cost_lines(run: endtoend.Timed, what: str) -> list[str]:
    memory = memory_mb()
    calls = [ms for step in run.steps.values() for ms in step.call_millis]
    gb_seconds = sum(math.ceil(ms) for ms in calls) / 1000 * memory / 1024
    lam = gb_seconds * LAMBDA_GB_SECOND_X86 + len(calls) * LAMBDA_REQUEST
    sfn = run.transitions * SFN_TRANSITION
    return [
        f"One nightly run of {what}, priced from the run above: {len(calls)} Lambda invocations "
        f"at {memory} MB (template.yaml) whose measured durations sum to "
        f"{sum(calls) / 1000:.1f} s, and {run.transitions} Step Functions state transitions. "
        f"Prices: Lambda x86 ${LAMBDA_GB_SECOND_X86:.10f} per GB-second and $0.20 per million "
        f"requests, Step Functions Standard $0.025 per 1,000 state transitions (US West (Oregon) "
        f"list prices, read {PRICES_READ}; free tiers left out).",
        "",
        "| part | quantity | per run $ | per 30 nights $ |",
        "|---|---:|---:|---:|",
        f"| Lambda | {gb_seconds:.3f} GB-s, {len(calls)} requests | {lam:.6f} | {lam * 30:.4f} |",
        f"| Step Functions | {run.transitions} transitions | {sfn:.6f} | {sfn * 30:.4f} |",
        f"| **orchestration** | | **{lam + sfn:.6f}** | **{(lam + sfn) * 30:.4f}** |",
        "",
        "The durations are the local ones: debug builds on the local Lambda, called through "
        "moto's engine, so they overstate what Lambda bills. On AWS the polls wait "
        "`PollSeconds` (5 s) and `CopyPollSeconds` (15 s), so the number of polls, and of "
        "transitions, follows how long the warehouse takes; the warehouse itself is billed apart.",
    ]


def work_table(runs: list[tuple[str, endtoend.Timed]]) -> list[str]:
    """What each run asked of the warehouse and how large its states and results grew."""
    lines = [
        "| run | Data API batches | single statements | SQL statements | COPYs | warehouse busy s "
        "| largest result bytes | largest state chars |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in runs:
        w = run.work
        lines.append(f"| {name} | {w.batches} | {w.singles} | {w.statements} | {w.copies} | "
                     f"{w.busy_seconds:.1f} | {w.largest_result_bytes:,} | "
                     f"{run.largest_state_chars:,} |")
    return lines


def orchestration_dollars(run: endtoend.Timed) -> float:
    memory = memory_mb()
    calls = [ms for step in run.steps.values() for ms in step.call_millis]
    gb_seconds = sum(math.ceil(ms) for ms in calls) / 1000 * memory / 1024
    return (gb_seconds * LAMBDA_GB_SECOND_X86 + len(calls) * LAMBDA_REQUEST
            + run.transitions * SFN_TRANSITION)


def warehouse_cost_lines(runs: list[tuple[str, endtoend.Timed]]) -> list[str]:
    """Each run priced with the warehouse: Serverless at the base capacity, charged for the
    seconds the stand-in was busy (at least the 60-second minimum) or, if capacity stays up
    between the run's statements, for the whole run; a dc2.large node for the run's time when the
    stack pauses it between runs, or for the day when it runs all the time; and the orchestration
    (Lambda and Step Functions) as above."""
    rpu_second = RPU_HOUR / 3600
    lines = [
        "| run | busy s | run s | Serverless 8 RPU, busy $ | Serverless 8 RPU, whole run $ "
        "| Serverless 128 RPU, busy $ | dc2.large paused between runs $ | dc2.large always on, per day $ "
        "| Lambda + Step Functions $ |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in runs:
        busy = max(run.work.busy_seconds, SERVERLESS_MINIMUM_S)
        whole = max(run.seconds, SERVERLESS_MINIMUM_S)
        lines.append(
            f"| {name} | {run.work.busy_seconds:.1f} | {run.seconds:.1f} | "
            f"{busy * BASE_RPUS * rpu_second:.4f} | {whole * BASE_RPUS * rpu_second:.4f} | "
            f"{busy * DEFAULT_RPUS * rpu_second:.4f} | {run.seconds * DC2_LARGE_HOUR / 3600:.4f} | "
            f"{24 * DC2_LARGE_HOUR:.2f} | {orchestration_dollars(run):.6f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="check that the benchmark runs: 2 cold starts, the sample, no file")
    parser.add_argument("--runs", type=int, help="cold starts per function (default 10)")
    parser.add_argument("--data", type=Path, default=FULL_DATA,
                        help="the bucket folder of the end-to-end run (default: the real data set)")
    parser.add_argument("--scale", default="1,4,16",
                        help="factors of the generated full data set for the scaling curve")
    parser.add_argument("--bootstraps", type=Path, default=local.TARGET / "lambda",
                        help="folder of <binary>/bootstrap release builds (./dev build)")
    parser.add_argument("--no-million", action="store_true",
                        help="measure the incremental runs at 16 times the real data set's shape "
                             "instead of a million songs (the million takes about 15 minutes on "
                             "two cores)")
    args = parser.parse_args(argv)
    runs = args.runs or (2 if args.quick else 10)
    work = local.ROOT / ".local" / "bench"
    shutil.rmtree(work, ignore_errors=True)
    local.build(quiet=True)  # the stand-in, the generator and the functions the pipeline runs
    endtoend.build_floor()

    print(f"==> cold starts: five functions and the Python peer, {runs} each", flush=True)
    rows = coldstart.measure(runs, args.bootstraps, work / "coldstart")
    if args.quick:
        local.generate_sample(work / "sample")
        data, what = work / "sample" / "udacity-dend", "the bundled sample"
    else:
        data, what = args.data, "the real data set"
    print(f"==> end to end: a nightly run of {what}", flush=True)
    full = endtoend.nightly(data, work / "nightly")
    print("==> the floor: the same rows by COPY FROM STDIN, the same SQL, the same PostgreSQL",
          flush=True)
    measured = endtoend.floor(data)
    endtoend.check_same_tables(full, measured)
    preset = "sample" if args.quick else "full"
    print(f"==> incremental: a new day's nightly run, then {endtoend.NEW_FILES} new log files, after a nightly run "
          "(generated, --preset sample)", flush=True)
    small = endtoend.incremental(work / "incremental", work / "incremental-logs", "sample")
    new_file = small.new_file
    factors = [1, 2] if args.quick else [int(f) for f in args.scale.split(",")]
    print(f"==> scaling: the generated {preset} data set at {factors}", flush=True)
    scaled = endtoend.scaling(work / "scaling", factors, preset)
    grown = None
    if not args.quick:
        if args.no_million:
            what_grown = ("16× the real data set's shape (--preset full --songs-scale 16 "
                          "--days-scale 16)", "full", ("--songs-scale", "16", "--days-scale", "16"),
                          "16× songs and days")
        else:
            what_grown = ("a million songs (--preset million)", "million", (),
                          f"1M songs, {365 - 1 - endtoend.NEW_FILES} days")
        print(f"==> {what_grown[0]}: a nightly run, a new day's nightly run, then "
              f"{endtoend.NEW_FILES} new log files", flush=True)
        try:
            grown = endtoend.million(work / "grown", work / "grown-logs", what_grown[1],
                                     *what_grown[2], label=what_grown[3])
            scaled.append(endtoend.Scaled(0, grown.rows, grown.nightly, None, grown.runs.floor,
                                          label=grown.label))
        except local.RunError as err:
            scaled.append(endtoend.Scaled(0, 0, None, str(err)[:300], None, label=what_grown[3]))
    priced = [(f"nightly, {what}", full), ("a new day's nightly run", small.new_day),
              ("one new log file (the median)", new_file)]
    if grown is not None:
        priced += [(f"nightly, {grown.label}", grown.nightly),
                   (f"a new day's nightly run, {grown.label}", grown.runs.new_day),
                   (f"one new log file (the median), {grown.label}", grown.runs.new_file)]

    met = "met" if new_file.seconds <= TARGET_INCREMENTAL_S else "missed"
    body = [
        "# Benchmarks",
        "",
        f"Measured by `./dev bench` on {dt.date.today():%Y-%m-%d}: {machine()}.",
        "",
        "## Cold start, memory and package size per function",
        "",
        *cold_start_table(rows, runs),
        "",
        f"## End to end: {what}",
        "",
        f"A nightly execution of statemachine/etl.asl.json on a fresh warehouse ({local_setup()}).",
        "Rows: " + ", ".join(f"{t} {n:,}" for t, n in full.counts.items()) + ".",
        "",
        *steps_table(full),
        "",
        "Each function's calls, run by the local Lambda within the template's limits (peak "
        "resident set of the function's process; debug builds):",
        "",
        *lambda_table(full),
        "",
        *floor_lines(full, measured),
        "",
        "## Incremental: a new day, and new log files one at a time",
        "",
        f"A generated bucket (`--preset sample`) loaded by a nightly run without its last "
        f"{1 + endtoend.NEW_FILES} log files; then the first of them lands and the nightly run "
        f"loads it (a new day), then {new_files_landed(small)}: "
        f"**{new_file.seconds:.1f} s**, the median (target ≤ {TARGET_INCREMENTAL_S:g} s: {met}).",
        "",
        *incremental_table([("sample", small)] + ([(grown.label, grown.runs)] if grown else [])),
        "",
        *incremental_targets(small, grown),
        "",
        "The median new log file's run:",
        "",
        *steps_table(new_file),
        "",
        *lambda_table(new_file),
        "",
        f"## Scaling: the generated data set (`--preset {preset}`) at {', '.join(f'{f}×' for f in factors)}",
        "",
        *scaling_lines(scaled, plot=work / PLOT.name if args.quick else PLOT),
        "",
        *grown_lines(grown),
        "## What a run asks of the warehouse",
        "",
        "Counted from the stand-in's own record of each run's statements (ListStatements, then "
        "DescribeStatement): the Data API batches and single statements the functions submitted, "
        "the SQL statements in them, the "
        "COPYs, and the seconds at least one was running (\"warehouse busy\"); the largest result "
        "a statement returned (the Data API allows 64 KB a row and 100 MB a result) and the "
        "largest state input or output (Step Functions allows 262,144 characters).",
        "",
        *work_table(priced),
        "",
        "## Cost of one nightly run's orchestration",
        "",
        *cost_lines(full, what),
        "",
        "## Cost with the warehouse",
        "",
        f"Each run above priced with the warehouse (prices read {WAREHOUSE_PRICES_READ}, from "
        "the Redshift Management Guide's \"Billing for Amazon Redshift Serverless\" (its US East "
        "example's rate and the 60-second minimum; no US West rate was found), \"Understanding "
        "Amazon Redshift Serverless capacity\" (base capacity 8 to 512 RPUs, default 128), "
        "\"Pausing and resuming clusters\" (a paused cluster pays for its storage only) and "
        "aws.amazon.com/redshift/pricing (dc2.large). Serverless: "
        f"${RPU_HOUR} per RPU-hour, per second while queries run, at least "
        f"{SERVERLESS_MINIMUM_S} s; at {BASE_RPUS} RPUs (the smallest base capacity in the "
        f"Management Guide) and at the default {DEFAULT_RPUS}. \"busy\" charges the seconds the "
        "stand-in was running a statement; \"whole run\" the run's wall time, as if capacity "
        "stayed up between its statements (the guide: \"RPU capacity can remain at a higher "
        f"setting for a period after query load falls\"). Provisioned: one dc2.large node at "
        f"${DC2_LARGE_HOUR} per hour, billed per second while not paused: for the run's time "
        "when `PauseClusterWhenIdle` pauses it between runs (plus the resume, not measured "
        "here), or for the whole day when it runs all the time.",
        "",
        *warehouse_cost_lines(priced),
        "",
        *WAREHOUSE_NOTES,
        "",
    ]
    text = "\n".join(body)
    print(text)
    if not args.quick:
        OUT.parent.mkdir(exist_ok=True)
        OUT.write_text(text)
        print(f"written to {OUT.relative_to(local.ROOT)}")
    return 0


def incremental_table(sizes: list[tuple[str, endtoend.Incremental]]) -> list[str]:
    """What each incremental run took and asked: wall time, copy-staging's calls, S3 requests by
    kind (COPY's reads among them) and Data API calls as the stand-in counted them, and the
    largest peak memory of any function call."""
    lines = [
        "| size | run | wall s | copy-staging calls | S3 LIST | S3 HEAD | S3 GET | S3 PUT "
        "| Data API calls | peak MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, runs in sizes:
        for name, run in [(f"nightly, all but {1 + endtoend.NEW_FILES} log files", runs.first),
                          ("a new day's nightly run", runs.new_day),
                          (f"one new log file (the median of {len(runs.new_files)})",
                           runs.new_file)]:
            asked = run.requests or {}
            s3 = asked.get("s3", {})
            if run.executions > 1:
                name += f" ({run.executions} executions, the load budget's continuations)"
            lines.append(
                f"| {label} | {name} | {run.seconds:.1f} | {run.calls_of('copy-staging')} | "
                + " | ".join(f"{s3.get(kind, 0):,}" for kind in ("LIST", "HEAD", "GET", "PUT"))
                + f" | {asked.get('data_api_calls', 0):,} | {run.peak_mib():.1f} |")
    return lines


def new_files_landed(runs: endtoend.Incremental) -> str:
    """How the new files landed, for the text: each key, its run's seconds."""
    each = ", ".join(f"`{key}` {run.seconds:.2f} s" for key, run in zip(runs.keys, runs.new_files))
    return (f"the other {len(runs.new_files)} land one after another, each run to verified tables "
            f"by the execution its S3 event starts ({each})")


def incremental_targets(small: endtoend.Incremental, grown) -> list[str]:
    """The new file's targets: ≤ 2 s at the sample's size; at the grown size, the same S3
    requests and Data API calls, and at most twice the time."""
    lines = []
    if grown is None:
        return lines
    here, there = small.new_file, grown.runs.new_file
    here_all, there_all = small.new_files, grown.runs.new_files
    # The same requests: every new file's run at either size made the same ones.
    def asked(run, what: str) -> str:
        return json.dumps((run.requests or {}).get(what), sort_keys=True)

    same_s3 = len({asked(run, "s3") for run in here_all + there_all}) == 1
    same_api = len({asked(run, "data_api_calls") for run in here_all + there_all}) == 1
    ratio = there.seconds / here.seconds if here.seconds else float("inf")

    def s3(run) -> str:
        asked = (run.requests or {}).get("s3") or {}
        return ", ".join(f"{asked.get(kind, 0):,} {kind}" for kind in ("LIST", "HEAD", "GET", "PUT"))

    def api(run) -> str:
        return f"{(run.requests or {}).get('data_api_calls')}"

    lines.append(
        f"One new log file at {grown.label} against the sample's (each the median of "
        f"{len(there_all)} against {len(here_all)}; the requests of every run): S3 requests "
        f"{'the same' if same_s3 else 'differ'} ({s3(there)} against {s3(here)}), Data API calls "
        f"{'the same' if same_api else 'differ'} ({api(there)} against {api(here)}), time "
        f"{ratio:.2f}× (targets: the same requests, {'met' if same_s3 and same_api else 'missed'}; "
        f"≤ 2× the time, {'met' if ratio <= 2 else 'missed'}).")
    return lines


def grown_lines(grown) -> list[str]:
    if grown is None:
        return []
    runs = grown.runs
    return [
        f"## {grown.label}",
        "",
        f"A nightly run on a fresh warehouse loads all but the last {1 + endtoend.NEW_FILES} "
        "log files "
        f"({runs.first.seconds:.1f} s"
        + (f", {runs.first.executions} executions: the load budget handed the rest on"
           if runs.first.executions > 1 else "")
        + "); then one day lands and the nightly run loads it "
        f"({runs.new_day.seconds:.1f} s); then {new_files_landed(runs)} "
        f"({runs.new_file.seconds:.1f} s, the median). "
        "Rows: " + ", ".join(f"{t} {n:,}" for t, n in runs.first.counts.items()) + ".",
        "",
        *steps_table(runs.first),
        "",
        "Each function's calls in the first nightly run, run by the local Lambda within the "
        "template's limits (a call over its MemorySize or Timeout is killed, and the run fails):",
        "",
        *lambda_table(runs.first),
        "",
        "The new day's nightly run:",
        "",
        *steps_table(runs.new_day),
        "",
        *lambda_table(runs.new_day),
        "",
        "The median new log file's run:",
        "",
        *steps_table(runs.new_file),
        "",
        *lambda_table(runs.new_file),
        "",
    ]


WAREHOUSE_NOTES = [
    "How a real warehouse's time differs from the stand-in's, estimated: the stand-in runs each "
    "batch on one PostgreSQL process on this machine, with no leader node, no commit queue and no "
    "S3 round trips (COPY reads the local files). On Redshift each transaction's commit goes "
    "through the leader node's commit queue (commonly a second or more on a small cluster), each "
    "COPY starts a load across the slices and reads every manifest entry from S3 (small files are "
    "the slow case: AWS advises files of 1 MB to 1 GB, a multiple of the slices, and documents no "
    "per-file cost), and the Data API adds its own submission and polling latency. So the busy "
    "seconds above are a floor for the many small statements (expect a few seconds per batch and "
    "per COPY more), and not an upper bound for the song COPYs of a million one-song files, "
    "which a real warehouse reads as a million S3 GETs.",
]


def local_setup() -> str:
    return ("redshift-local on its embedded PostgreSQL, the functions as debug builds on the "
            "local Lambda (tools/local_lambda.py), moto's Step Functions engine, 1 s polls")


if __name__ == "__main__":
    sys.exit(main())
