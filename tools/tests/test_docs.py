"""The docs' generated diagrams (tools/diagrams.py: from the DDL and the ASL) must be up to date
wherever each lives (README.md, docs/*.md or statemachine/*.md), and every mermaid diagram of the
docs must parse."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import diagrams  # noqa: E402


def test_the_generated_diagrams_are_up_to_date():
    check = subprocess.run(
        [sys.executable, str(diagrams.ROOT / "tools" / "diagrams.py"), "--check"],
        capture_output=True, text=True,
    )
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("path", [diagrams.ASL, diagrams.STARTER], ids=lambda p: p.name)
def test_the_state_machine_diagrams_have_every_state_and_every_transition(path):
    asl = json.loads(path.read_text())
    drawn = diagrams.state_machine(path)
    edges = set(re.findall(r"^    (\w+) -\.?->(?:\|[^|]*\|)? (\w+)$", drawn, re.M))
    for name, state in asl["States"].items():
        assert re.search(rf"^    {name}\W", drawn, re.M), name
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
        for target in filter(None, targets):
            assert (name, target) in edges, (name, target)


def test_the_schema_diagram_has_every_column_key_and_reference():
    drawn = diagrams.star_schema()
    for name in diagrams.STAR:
        ddl = (diagrams.CREATE / f"{name}.sql").read_text()
        _, columns, primary, foreign = diagrams.table(ddl)
        assert columns, name
        for column, _ in columns:
            assert re.search(rf"^        \w+ {column}( |$)", drawn, re.M), (name, column)
        for column in primary:
            assert re.search(rf"^        \w+ {column} PK", drawn, re.M), (name, column)
        for column, dimension in foreign.items():
            assert f'{dimension} ||--o{{ {name} : "{column}"' in drawn


def _docs():
    return {path: path.read_text() for path in diagrams.documents()}


def test_each_generated_diagram_is_in_exactly_one_file_of_the_docs():
    docs = _docs()
    where = diagrams.locate(docs)
    assert set(where) == set(diagrams.DIAGRAMS)
    for name, path in where.items():
        begin, end = diagrams._markers(name)
        assert docs[path].count(begin) == 1 and docs[path].count(end) == 1, (name, path)


def test_a_change_to_the_asl_makes_the_check_fail(tmp_path, monkeypatch):
    asl = json.loads(diagrams.ASL.read_text())
    asl["States"]["Succeeded"]["Comment"] = "comments are not drawn"
    asl["States"]["CreateTablesWait"]["Next"] = "Succeeded"
    changed = tmp_path / "etl.asl.json"
    changed.write_text(json.dumps(asl))
    docs = _docs()
    holder = diagrams.locate(docs)["state machine"]
    monkeypatch.setattr(diagrams, "ASL", changed)
    rendered = diagrams.render_docs(docs)
    assert rendered[holder] != docs[holder]
    assert all(rendered[path] == docs[path] for path in docs if path != holder)
    broken = {**docs, holder: docs[holder].replace("<!-- end of state machine -->", "")}
    with pytest.raises(diagrams.DiagramError):
        diagrams.render_docs(broken)


@pytest.mark.parametrize("name", list(diagrams.DIAGRAMS))
def test_a_stale_line_of_any_diagram_makes_the_check_fail_where_it_lives(name):
    docs = _docs()
    holder = diagrams.locate(docs)[name]
    begin, end = diagrams._markers(name)
    head, rest = docs[holder].split(begin)
    block, tail = rest.split(end)
    last = block.rstrip("\n`").rsplit("\n", 1)[1]
    stale = {**docs, holder: head + begin + block.replace(last, last + " stale", 1) + end + tail}
    rendered = diagrams.render_docs(stale)
    assert rendered[holder] == docs[holder] != stale[holder]
    assert {path for path in docs if rendered[path] != stale[path]} == {holder}


@pytest.mark.parametrize("name", list(diagrams.DIAGRAMS))
def test_a_diagram_missing_or_doubled_makes_the_check_fail(name, tmp_path):
    docs = _docs()
    holder = diagrams.locate(docs)[name]
    begin, end = diagrams._markers(name)
    head, rest = docs[holder].split(begin)
    block, tail = rest.split(end)
    with pytest.raises(diagrams.DiagramError, match="exactly one"):
        diagrams.render_docs({**docs, holder: head + tail})
    elsewhere = tmp_path / "elsewhere.md"
    with pytest.raises(diagrams.DiagramError, match="exactly one"):
        diagrams.render_docs({**docs, elsewhere: begin + block + end + "\n"})


def test_every_mermaid_diagram_of_the_docs_parses():
    """mermaid itself (tools/check_mermaid.mjs, installed by ./dev into .tools/node) parses every
    diagram of the Markdown files, as GitHub does when it renders them: the same files the
    generated diagrams may live in, so each generated one is among those parsed."""
    root = diagrams.ROOT
    script = (root / "tools" / "check_mermaid.mjs").read_text()
    docs = [str(p) for p in diagrams.documents()]
    run = subprocess.run(
        ["node", "--input-type=module", "-e", script, *docs],
        cwd=root / ".tools" / "node", capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    blocks = sum(Path(doc).read_text().count("```mermaid\n") for doc in docs)
    # The generated diagrams and the README's architecture flowchart, at least.
    assert blocks >= len(diagrams.DIAGRAMS) + 1, blocks
    assert "```mermaid\n" in (root / "README.md").read_text()
    assert f": {blocks} of {blocks} diagrams parse" in run.stdout, run.stdout
