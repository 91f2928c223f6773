"""The README's diagrams are generated from the DDL and the ASL (tools/diagrams.py) and must be
up to date."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import diagrams  # noqa: E402


def test_the_readme_diagrams_are_up_to_date():
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


def test_a_change_to_the_asl_makes_the_check_fail(tmp_path, monkeypatch):
    asl = json.loads(diagrams.ASL.read_text())
    asl["States"]["Succeeded"]["Comment"] = "comments are not drawn"
    asl["States"]["CreateTablesWait"]["Next"] = "Succeeded"
    changed = tmp_path / "etl.asl.json"
    changed.write_text(json.dumps(asl))
    readme = diagrams.README.read_text()
    monkeypatch.setattr(diagrams, "ASL", changed)
    assert diagrams.render(readme) != readme
    with pytest.raises(diagrams.DiagramError):
        diagrams.render(readme.replace("<!-- end of state machine -->", ""))


def test_every_mermaid_diagram_of_the_docs_parses():
    """mermaid itself (tools/check_mermaid.mjs, installed by ./dev into .tools/node) parses every
    diagram of the Markdown files, as GitHub does when it renders them."""
    root = diagrams.ROOT
    script = (root / "tools" / "check_mermaid.mjs").read_text()
    docs = [str(p) for p in [root / "README.md", *sorted((root / "docs").glob("*.md")),
                              *sorted((root / "statemachine").glob("*.md"))]]
    run = subprocess.run(
        ["node", "--input-type=module", "-e", script, *docs],
        cwd=root / ".tools" / "node", capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    blocks = sum(Path(doc).read_text().count("```mermaid\n") for doc in docs)
    assert blocks >= 3 and f": {blocks} of {blocks} diagrams parse" in run.stdout, run.stdout
