"""`./dev bench --cold`: what a new user waits for. Clones a commit (HEAD by default) into empty
folders beside the repository (so `../shared/data` resolves, as it does for the repository
itself), each with empty caches of its own (CARGO_HOME, so crates are downloaded too; the target
dir; pip's, uv's and npm's), and times the README's two commands there, one after the other so
they do not share the two cores:

1. `./dev run`, cold, with cargo's `--timings` report of its build, then `./dev run` on the real
   data set with what it built (what the build profile costs at run time);
2. `./dev test` right after, in the same clone with the caches the first command left: a new
   user's second command;
3. with `--ci`, `.ci/run` (= `./dev test`), cold, in a second clone with empty caches of its own:
   what CI takes when its cache has been dropped.

Writes docs/cold-start.md (the machine, the commit, the wall times against their targets, the
time each of `./dev test`'s checks took) and docs/cold-build-timings.html (cargo's report of the
`./dev run` build). Takes about 25 minutes on two cores, an hour with `--ci`; the clones are
removed at the end unless `--keep`. Tools that are machine-wide (the Rust toolchain, Debian's postgresql-15, which
`./dev test` installs when missing) stay as they are: a new machine with Rust installed has the
toolchain, and the package install is part of the figure only on a machine that lacks it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

ROOT = bench.local.ROOT
DOCS = ROOT / "docs"
REPORT, TIMINGS = "cold-start.md", "cold-build-timings.html"
# What verify-counts reports on the real data set (../shared/data/README.md).
FULL_DATA_COUNTS = ("staging_events=8056,staging_songs=14896,songplays=333,users=96,songs=14896,"
                    "artists=9553,time=333")
# The targets, in seconds, on two cores.
TARGET_RUN_S = 8 * 60
TARGET_TEST_S = 15 * 60
TARGET_CI_S = 45 * 60


def clean_env(work: Path, name: str) -> dict[str, str]:
    """This process's environment with empty caches of its own, under `work`: CARGO_HOME
    (registry, downloaded crates), CARGO_TARGET_DIR, pip's, uv's and npm's. Anything that would
    reuse a build (sccache, a cargo cache path CI sets) is dropped."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CARGO_", "RUSTC_WRAPPER", "SCCACHE", "UV_"))}
    cargo_home = work / f"cargo-home-{name}"
    cargo_home.mkdir(parents=True)
    # rustup's proxies (cargo, rustc) stay where they are installed.
    real_home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
    env["PATH"] = f"{real_home / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["RUSTUP_HOME"] = os.environ.get("RUSTUP_HOME", str(Path.home() / ".rustup"))
    env["CARGO_HOME"] = str(cargo_home)
    env["CARGO_TARGET_DIR"] = str(work / f"target-{name}")
    # The tools' downloads are part of a first run too: no pip, uv or npm cache either.
    env["PIP_CACHE_DIR"] = str(work / f"pip-cache-{name}")
    env["UV_CACHE_DIR"] = str(work / f"uv-cache-{name}")
    env["npm_config_cache"] = str(work / f"npm-cache-{name}")
    return env


def timed(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> tuple[float, int]:
    """Runs `argv`, its output to `log` and, a line at a time, to this terminal; returns (wall
    seconds, exit code)."""
    started = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            print(f"  | {line}", end="", flush=True)
        code = proc.wait()
    return time.monotonic() - started, code


def clone(work: Path, name: str, rev: str) -> Path:
    """A clone of `rev` beside the repository (and beside ../shared), named after `work`."""
    folder = work.parent / f"{work.name}-{name}"
    subprocess.run(["git", "clone", "--quiet", "--no-local", str(ROOT), str(folder)], check=True)
    subprocess.run(["git", "checkout", "--quiet", "--detach", rev], cwd=folder, check=True)
    return folder


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def check_times(log: Path) -> list[tuple[str, float, str]]:
    """(check, seconds, passed or FAILED) from `./dev test`'s closing lines."""
    found = re.findall(r"^(passed|FAILED)\s+(\d+) s\s+(.+)$", log.read_text(), re.M)
    return [(name, float(seconds), status) for status, seconds, name in found]


Timed = tuple[float, int]  # (wall seconds, exit code)
Checks = list[tuple[str, float, str]]


def report(commit: str, run: Timed | None, run_full: Timed | None, test: Timed | None,
           test_checks: Checks, ci: Timed | None, ci_checks: Checks) -> str:
    def verdict(seconds: float, code: int, target: float) -> str:
        if code != 0:
            return f"**failed** (exit {code})"
        return "met" if seconds <= target else "**missed**"

    lines = [
        "# Cold start: the README's two commands on an empty machine",
        "",
        "Measured by `./dev bench --cold` (`tools/bench/cold.py`): the commit cloned into empty "
        "folders beside the repository with empty caches (CARGO_HOME and target dir: every crate "
        "downloaded and compiled): `./dev run`, then `./dev test` in the same clone with what the "
        "first left, as a new user runs them; with `--cold --ci`, `.ci/run` in a second clone with "
        "empty caches of its own. One command at a time. "
        "The figures are the measured ones, never edited. Back to the [README](../README.md); "
        "how the build is kept short: [performance.md](performance.md#the-first-build).",
        "",
        f"- date: {dt.date.today():%Y-%m-%d}; commit `{commit[:12]}`",
        f"- machine: {bench.machine()}",
        "",
        "| command | wall time | target | |",
        "|---|---|---|---|",
    ]
    if run is not None and run_full is not None:
        lines.append(f"| `./dev run` (cold) | {minutes(run[0])} | ≤ {TARGET_RUN_S // 60} min | "
                     f"{verdict(run[0], run[1], TARGET_RUN_S)} |")
        lines.append(f"| `./dev run --data ../shared/data/udacity-dend` (built) | {run_full[0]:.1f} "
                     f"s (the pipeline) | | "
                     f"{'' if run_full[1] == 0 else f'**failed** (exit {run_full[1]})'} |")
    if test is not None:
        lines.append(f"| `./dev test` right after it | {minutes(test[0])} | "
                     f"≤ {TARGET_TEST_S // 60} min | {verdict(test[0], test[1], TARGET_TEST_S)} |")
    if ci is not None:
        lines.append(f"| `.ci/run` (cold, a clone of its own) | {minutes(ci[0])} | "
                     f"≤ {TARGET_CI_S // 60} min | {verdict(ci[0], ci[1], TARGET_CI_S)} |")
    lines += [
        "",
        "cargo's report of the `./dev run` build (what compiled when, on which core): "
        "[cold-build-timings.html](cold-build-timings.html).",
    ]
    for title, checks in (("`./dev test`'s checks right after `./dev run`", test_checks),
                          ("The cold `.ci/run`'s checks", ci_checks)):
        if checks:
            lines += ["", f"{title}, in order:", "", "| check | time | |", "|---|---|---|"]
            lines += [f"| {name} | {minutes(seconds)} | {status} |"
                      for name, seconds, status in checks]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev bench --cold", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-only", action="store_true",
                        help="time the cold ./dev run only (about 8 minutes), not ./dev test")
    parser.add_argument("--ci", action="store_true",
                        help="also time a cold .ci/run in a second clone with empty caches of "
                             "its own (about 35 minutes more)")
    parser.add_argument("--keep", action="store_true", help="keep the clones and their caches")
    parser.add_argument("--rev", default="HEAD",
                        help="the commit to measure (default HEAD); e.g. a branch with another "
                             "profile, to weigh it; only HEAD's figures belong in docs/")
    parser.add_argument("--out", type=Path, default=DOCS,
                        help=f"where {REPORT} and {TIMINGS} go (default docs/)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    commit = subprocess.run(["git", "rev-parse", args.rev], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.strip()
    if subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                      capture_output=True, text=True, check=True).stdout.strip():
        print("note: uncommitted changes are not measured: the clones are of HEAD", flush=True)
    work = ROOT.parent / f"cold-start-{dt.datetime.now():%Y%m%d-%H%M%S}"
    work.mkdir()
    try:
        folder, env, run, run_full = cold_run(work, commit, args.out)
        test, test_checks = None, []
        if not args.run_only:
            print(f"==> ./dev test right after it, in {folder}", flush=True)
            test = timed(["./dev", "test"], folder, env, work / "test.log")
            test_checks = check_times(work / "test.log")
            print(f"==> ./dev test: {minutes(test[0])}, exit {test[1]}", flush=True)
        ci, ci_checks = None, []
        if args.ci:
            print(f"==> cold .ci/run in {work}-ci", flush=True)
            folder = clone(work, "ci", commit)
            env = clean_env(work, "ci")
            env["CI"] = "true"
            ci = timed(["bash", ".ci/run"], folder, env, work / "ci.log")
            ci_checks = check_times(work / "ci.log")
            print(f"==> .ci/run: {minutes(ci[0])}, exit {ci[1]}", flush=True)
        (args.out / REPORT).write_text(
            report(commit, run, run_full, test, test_checks, ci, ci_checks))
        print(f"==> wrote {args.out / REPORT}", flush=True)
        within = ((run, TARGET_RUN_S), (test, TARGET_TEST_S), (ci, TARGET_CI_S))
        ok = run_full[1] == 0 and all(t is None or (t[1] == 0 and t[0] <= target)
                                      for t, target in within)
        return 0 if ok else 1
    finally:
        if not args.keep:
            for folder in (work, *work.parent.glob(f"{work.name}-*")):
                shutil.rmtree(folder, ignore_errors=True)


def cold_run(work: Path, commit: str, out: Path) -> tuple[Path, dict[str, str], Timed, Timed]:
    """The cold `./dev run` (its --timings report to `out`), then the real data set with what it
    built: the clone, its environment, and the two (wall seconds, exit code), the second's
    seconds the pipeline's own."""
    print(f"==> cold ./dev run in {work}-run", flush=True)
    folder = clone(work, "run", commit)
    env = clean_env(work, "run")
    run = timed(["./dev", "run", "--timings"], folder, env, work / "run.log")
    print(f"==> ./dev run: {minutes(run[0])}, exit {run[1]}", flush=True)
    # What the build's profile costs at run time: the real data set, built now.
    full = timed(["./dev", "run", "--data", str(bench.FULL_DATA), "--expect",
                  FULL_DATA_COUNTS], folder, env, work / "run-full.log")
    pipeline = re.findall(r"^(?:done|FAILED) in ([0-9.]+) s", (work / "run-full.log").read_text(),
                          re.M)
    run_full = (float(pipeline[-1]) if pipeline else float("nan"), full[1])
    print(f"==> ./dev run on the real data set: {run_full[0]} s, exit {full[1]}", flush=True)
    timings = Path(env["CARGO_TARGET_DIR"]) / "cargo-timings" / "cargo-timing.html"
    if timings.exists():
        shutil.copyfile(timings, out / TIMINGS)
    return folder, env, run, run_full


if __name__ == "__main__":
    sys.exit(main())
