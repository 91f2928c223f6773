"""The docs agree with the code wherever a machine can tell: every template parameter is in the
parameter table and back, every `./dev` command and flag the docs show exists, every error name
the docs give is one a run can end with, and each of those has its entry in the runbook. The
generated pages (benchmarks.md, cold-start.md) are the measurements and are not read here."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sparkify_local as local  # noqa: E402

ROOT = local.ROOT
GENERATED = {"benchmarks.md", "cold-start.md"}
PAGES = [ROOT / "README.md", ROOT / "statemachine" / "README.md",
         *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name not in GENERATED)]


def text(path: Path) -> str:
    return path.read_text()


def section(path: Path, heading: str) -> str:
    """The body of `## heading` in `path`, up to the next heading of the same level."""
    body = text(path)
    start = body.index(f"\n## {heading}\n")
    end = body.find("\n## ", start + 1)
    return body[start:end if end >= 0 else len(body)]


def template_parameters() -> set[str]:
    template = text(ROOT / "template.yaml")
    block = re.search(r"(?ms)^Parameters:\n(.*?)^\S", template).group(1)
    return set(re.findall(r"(?m)^  ([A-Za-z0-9]+):$", block))


def test_every_template_parameter_is_in_the_parameter_table_and_back():
    table = section(ROOT / "docs" / "deploy.md", "Configuration")
    documented = set(re.findall(r"(?m)^\| `([A-Za-z0-9]+)` \|", table))
    parameters = template_parameters()
    assert parameters - documented == set(), "parameters missing from deploy.md's table"
    assert documented - parameters == set(), "rows of deploy.md's table that are no parameter"


def dev_commands() -> set[str]:
    dispatch = text(ROOT / "dev").split('case "${1:-help}" in', 1)[1]
    return set(re.findall(r"(?m)^  ([a-z]+)\)", dispatch))


def flags_of(*argv: str) -> set[str]:
    run = subprocess.run([sys.executable, *argv, "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True)
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", run.stdout))


def dev_invocations() -> list[tuple[str, str, str]]:
    """(page, command, rest of the line) for every `./dev COMMAND ...` the docs show, in code spans
    and in code blocks (up to a comment or the span's end)."""
    found = []
    for page in PAGES:
        for line in text(page).splitlines():
            for match in re.finditer(r"\./dev ([a-z]+)([^`#|\n]*)", line):
                found.append((page.name, match.group(1), match.group(2)))
    return found


def test_every_dev_command_and_flag_the_docs_show_exists():
    commands = dev_commands()
    flags = {
        "run": flags_of("tools/sparkify_local.py"),
        "bench": flags_of("tools/bench/bench.py") | flags_of("tools/bench/cold.py") | {"--cold"},
        "status": flags_of("tools/ops.py", "status"),
        "runs": flags_of("tools/ops.py", "runs"),
        "quarantine": flags_of("tools/ops.py", "quarantine", "list") | flags_of(
            "tools/ops.py", "quarantine", "retry"),
        "backfill": flags_of("tools/ops.py", "backfill"),
    }
    invocations = dev_invocations()
    assert len(invocations) > 20, invocations
    unknown = [(page, command) for page, command, _ in invocations if command not in commands]
    assert unknown == [], f"./dev has no such command: {unknown}"
    bad_flags = [(page, command, flag) for page, command, rest in invocations
                 for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]*", rest)
                 if command in flags and flag not in flags[command]]
    assert bad_flags == [], f"no such flag: {bad_flags}"


def raised_names() -> set[str]:
    """Every name a run can end with: the functions' (EtlError::name) and the state machines'
    own (their Fail states' Error)."""
    error_rs = text(ROOT / "crates" / "sparkify" / "src" / "error.rs")
    names = set(re.findall(r'Self::\w+(?:\(_\)| \{ \.\. \}) => "(\w+)"', error_rs))
    assert len(names) >= 16, names

    def set_errors(value):
        """Every literal `Error` a state sets: a Fail state's, or a Pass state's renaming."""
        if isinstance(value, dict):
            if isinstance(value.get("Error"), str) and not value["Error"].startswith("States."):
                yield value["Error"]
            for child in value.values():
                yield from set_errors(child)
        elif isinstance(value, list):
            for child in value:
                yield from set_errors(child)

    for asl in ("etl.asl.json", "start.asl.json"):
        names |= set(set_errors(json.loads(text(ROOT / "statemachine" / asl))))
    return names


def other_names() -> set[str]:
    """Names the docs give that are not errors: the template's parameters and resources, the
    state machines' states, the runs' metrics, the error enum itself."""
    template = text(ROOT / "template.yaml")
    resources = re.search(r"(?ms)^Resources:\n(.*?)(?:^\S|\Z)", template).group(1)
    states = set()
    for asl in ("etl.asl.json", "start.asl.json"):
        states |= set(re.findall(r'(?m)^    "(\w+)": \{$', text(ROOT / "statemachine" / asl)))
    # The operating commands' own errors (crates/analytics, crates/warehouse-cli): not a run's.
    tools = set()
    for crate in ("analytics", "warehouse-cli"):
        for source in (ROOT / "crates" / crate / "src").glob("*.rs"):
            tools |= set(re.findall(r'Self::\w+(?:\(_\)| \{ \.\. \})? => "(\w+)"', text(source)))
    # The runs' CloudWatch metrics (crates/sparkify/src/metrics.rs).
    metrics = set(re.findall(r'Name::\w+ => "(\w+)"', text(ROOT / "crates" / "sparkify" / "src" / "metrics.rs")))
    return (template_parameters() | set(re.findall(r"(?m)^  ([A-Za-z0-9]+):$", resources))
            | states | tools | metrics | {"EtlError"})


def errors_md_names() -> set[str]:
    return set(re.findall(r"(?m)^\| `(\w+)` \|", text(ROOT / "docs" / "errors.md")))


def test_errors_md_lists_every_name_a_run_can_end_with_and_no_other():
    listed = errors_md_names()
    raised = raised_names()
    assert raised - listed == set(), "names a run can end with that errors.md does not give"
    assert listed - raised == set(), "names errors.md gives that nothing raises"


# Names in the docs shaped like error names that are AWS's, not ours: Step Functions' metrics and
# its refusal of a taken execution name, Redshift's cluster state, the Data API's exceptions, S3's
# error codes.
AWS_NAMES = {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted", "ExecutionAlreadyExists",
             "InvalidClusterState", "ClusterNotFound", "ValidationException",
             "InternalError", "KeyTooLongError"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_error_name_a_page_gives_is_one_a_run_can_end_with(page):
    raised = raised_names()
    suffixes = {re.findall(r"[A-Z][a-z0-9]*", name)[-1] for name in raised}
    shaped = {name for name in re.findall(r"`([A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+)`", text(page))
              if re.findall(r"[A-Z][a-z0-9]*", name)[-1] in suffixes}
    assert shaped - raised - AWS_NAMES - other_names() == set(), \
        f"{page.name} names errors nothing raises"


def test_every_error_name_has_its_runbook_entry():
    runbook = section(ROOT / "docs" / "runbook.md", "A run failed")
    entries = set(re.findall(r"(?m)^\| `(\w+)` \|", runbook))
    missing = sorted(raised_names() - entries)
    assert missing == [], f"no runbook entry names {missing}"


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as
    hyphens, a repeated heading numbered."""
    seen: dict[str, int] = {}
    out = set()
    in_code = False
    for line in text(path).splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not re.match(r"#{1,6} ", line):
            continue
        slug = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


@pytest.mark.parametrize("page", [*PAGES, *(ROOT / "docs" / g for g in sorted(GENERATED))],
                         ids=lambda p: p.name)
def test_every_link_between_the_pages_reaches_its_file_and_heading(page):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text(page)):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        resolved = (page.parent / file).resolve() if file else page
        if not resolved.exists():
            broken.append(target)
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(target)
    assert broken == [], f"{page.name}: links to nothing: {broken}"


def figures(body: str) -> set[str]:
    """The measured figures of a text: the numbers written with a unit (ms, s, MiB, MB, GB, ×)."""
    return set(re.findall(r"(?<![\w.])(\d+(?:\.\d+)?)(?: ?(?:ms|s|MiB|MB|GB)\b|×)", body))


def test_the_last_runs_figures_in_performance_md_are_the_measured_ones():
    """performance.md summarises the last benchmark; each figure it gives is a number the
    generated pages (benchmarks.md, cold-start.md) hold, so the summary cannot drift from the
    measurement. What it works out itself (a ratio against a corrected floor) it writes in words
    or links to."""
    # Targets (after ≤) are not measurements; thousands separators are spelling.
    summary = re.sub(r"≤ ?[\d.]+ ?(?:ms|s|MiB|MB|GB|×)?", "",
                     section(ROOT / "docs" / "performance.md", "The last run")).replace(",", "")
    generated = "".join(text(ROOT / "docs" / name) for name in sorted(GENERATED))
    measured = set(re.findall(r"(?<![\w.])\d+(?:\.\d+)?", generated.replace(",", "")))
    given = figures(summary)
    assert len(given) >= 10, given
    missing = sorted(given - measured)
    assert missing == [], f"figures of 'The last run' that no generated page holds: {missing}"
